import type { Etcd3, EtcdError, Lease } from 'etcd3'

/**
 * This replica's lease, which its records, reports and the driver key live under, so they go
 * when the replica does. Kept alive by the client; once lost, the next connect grants a new one.
 */
export class ReplicaLease {
  #lease: Lease | undefined

  constructor(
    private readonly client: Etcd3,
    private readonly seconds: number,
    /** The lease ended without being revoked (etcd expired it, or keepalives failed): every key under it is gone. */
    private readonly onLost: (error: EtcdError) => void,
  ) {}

  /** The lease to write under; undefined while there is none. */
  get current(): Lease | undefined {
    return this.#lease
  }

  /** Grants a lease unless there is one already. */
  async ensure(): Promise<void> {
    if (this.#lease !== undefined) return
    const lease = this.client.lease(this.seconds, { autoKeepAlive: true })
    lease.on('lost', (error) => {
      if (this.#lease !== lease) return
      this.#lease = undefined
      this.onLost(error)
    })
    this.#lease = lease
    await lease.grant()
  }

  /** On close: revoked while etcd can be reached, so this replica's keys go at once instead of at the lease's end. */
  async end(reachable: boolean): Promise<void> {
    if (reachable) await this.#lease?.revoke().catch(() => {})
    else this.#lease?.release()
  }
}
