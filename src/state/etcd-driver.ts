import type { Etcd3, Lease } from 'etcd3'
import type { Logger } from '../support/log.js'

/** What the election needs of the store's connection, read at each try. */
export interface DriverLink {
  /** The lease the driver key lives under; undefined while there is none. */
  lease(): Lease | undefined
  connected(): boolean
}

/**
 * Which replica drives rollouts: the one holding `{prefix}driver`, created under its lease. A
 * replica claims the key only if nobody holds it (an etcd transaction, so one wins a race); the key
 * goes with its holder's lease, at once on a clean stop (revoked) or leaseSeconds after a crash,
 * and the next claim takes over. A driver's writes are compare-and-set on the state's revision, so
 * two replicas that both believe they drive for a moment still cannot both apply a step.
 */
export class DriverElection {
  #driver: string | undefined

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly replicaId: string,
    private readonly link: DriverLink,
    private readonly logger: Logger,
  ) {}

  /** The holder as last seen. */
  get driver(): string | undefined {
    return this.#driver
  }

  /** The key's value as read or watched (undefined: deleted or absent). */
  seen(holder: string | undefined): void {
    if (holder === this.#driver) return
    this.#driver = holder
    if (holder !== undefined) this.logger.info({ event: 'driver_changed', driver: holder, self: holder === this.replicaId }, `rollouts are driven by replica ${holder}`)
  }

  /** This replica's lease is gone: whatever it held went with it. */
  leaseLost(): void {
    if (this.#driver === this.replicaId) this.#driver = undefined
  }

  /** Claims the key if nobody holds it; learns the holder either way. */
  async campaign(): Promise<void> {
    const lease = this.link.lease()
    if (lease === undefined || !this.link.connected()) return
    try {
      const leaseId = await lease.grant()
      const response = await this.client
        .if(this.key, 'Create', '==', 0)
        .then(this.client.put(this.key).value(this.replicaId).lease(leaseId))
        .else(this.client.get(this.key))
        .commit()
      this.seen(response.succeeded ? this.replicaId : response.responses[0]?.response_range?.kvs[0]?.value.toString())
    } catch (error) {
      this.logger.debug({ event: 'driver_campaign_failed', err: error }, 'cannot claim the rollout driver key; trying again shortly')
    }
  }
}
