import type { IKeyValue, Lease } from 'etcd3'
import type { Logger } from '../support/log.js'
import { Coalesced } from './coalesced.js'
import { decodeCounts, decodeDrain, decodeReplica, type EtcdKeys, type KeyKind } from './etcd-codec.js'
import type { CountsRecord, DrainRecord, ReplicaRecord } from './shared.js'

/** What membership needs of the store's connection, read at each write. */
export interface MembershipLink {
  /** The lease to write under; undefined while there is none. */
  lease(): Lease | undefined
  connected(): boolean
  /** The revision this replica routes with. */
  appliedRevision(): number
}

/**
 * The replicas, their drain reports and their rollout counts as this replica sees them (from the
 * prefix's keys), and this replica's own record and reports, written under its lease. Each kind of
 * write goes one at a time, so an older value never lands after a newer one; all are written again
 * after a reconnect.
 */
export class EtcdMembership {
  readonly #replicas = new Map<string, ReplicaRecord>()
  /** By full key. */
  readonly #drains = new Map<string, DrainRecord>()
  readonly #ownDrains = new Map<string, Omit<DrainRecord, 'replica'>>()
  readonly #dirtyDrains = new Set<string>()
  /** By full key. */
  readonly #counts = new Map<string, CountsRecord>()
  readonly #ownCounts = new Map<string, Omit<CountsRecord, 'replica'>>()
  readonly #dirtyCounts = new Set<string>()
  readonly #record = new Coalesced(() => this.#writeRecord())
  readonly #drainWriter = new Coalesced(() => this.#writeDrains())
  readonly #countsWriter = new Coalesced(() => this.#writeCounts())
  readonly #startedAt = new Date().toISOString()
  #heartbeat: NodeJS.Timeout | undefined

  constructor(
    private readonly keys: EtcdKeys,
    private readonly replicaId: string,
    private readonly link: MembershipLink,
    private readonly logger: Logger,
  ) {}

  replicas(): readonly ReplicaRecord[] {
    return [...this.#replicas.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  drains(service: string): readonly DrainRecord[] {
    return [...this.#drains.values()].filter((record) => record.service === service)
  }

  /** Every replica's counts of `service`'s rollout window; this replica's own as last reported. */
  counts(service: string): readonly CountsRecord[] {
    const others = [...this.#counts.values()].filter((record) => record.service === service && record.replica !== this.replicaId)
    const own = this.#ownCounts.get(service)
    return own === undefined ? others : [...others, { ...own, replica: this.replicaId }]
  }

  /** Forgets what was read, before a full reload. */
  clear(): void {
    this.#replicas.clear()
    this.#drains.clear()
    this.#counts.clear()
  }

  /** Applies a replica or drain key read or watched; true when it was one. */
  take(kv: IKeyValue, key: KeyKind, deleted: boolean): boolean {
    if (key.kind === 'replica') {
      const record = deleted ? undefined : decodeReplica(key.id, kv.value.toString())
      if (record === undefined) this.#replicas.delete(key.id)
      else this.#replicas.set(key.id, record)
      return true
    }
    if (key.kind === 'drain') {
      const name = kv.key.toString()
      const record = deleted ? undefined : decodeDrain(key.service, key.replica, kv.value.toString())
      if (record === undefined) this.#drains.delete(name)
      else this.#drains.set(name, record)
      return true
    }
    if (key.kind === 'counts') {
      const name = kv.key.toString()
      const record = deleted ? undefined : decodeCounts(key.service, key.replica, kv.value.toString())
      if (record === undefined) this.#counts.delete(name)
      else this.#counts.set(name, record)
      return true
    }
    return false
  }

  /** Writes this replica's record (applied revision, last seen) soon. */
  touch(): void {
    this.#record.run()
  }

  report(record: Omit<DrainRecord, 'replica'>): void {
    this.#ownDrains.set(record.service, record)
    this.#dirtyDrains.add(record.service)
    this.#drainWriter.run()
  }

  /** Publishes this replica's counts of a rollout window (the latest one wins). */
  reportCounts(record: Omit<CountsRecord, 'replica'>): void {
    this.#ownCounts.set(record.service, record)
    this.#dirtyCounts.add(record.service)
    this.#countsWriter.run()
  }

  /** Writes the record and every report again (a fresh lease after a reconnect) and waits for it. */
  async rewrite(): Promise<void> {
    this.#record.run()
    for (const service of this.#ownDrains.keys()) this.#dirtyDrains.add(service)
    for (const service of this.#ownCounts.keys()) this.#dirtyCounts.add(service)
    this.#drainWriter.run()
    this.#countsWriter.run()
    await Promise.all([this.#record.idle(), this.#drainWriter.idle(), this.#countsWriter.idle()])
  }

  /** Keeps lastSeen fresh; the lease itself is kept alive by the client. */
  startHeartbeat(everyMs: number): void {
    this.#heartbeat = setInterval(() => this.#record.run(), everyMs)
    this.#heartbeat.unref()
  }

  stop(): void {
    clearInterval(this.#heartbeat)
  }

  async #writeRecord(): Promise<void> {
    const lease = this.link.lease()
    if (lease === undefined || !this.link.connected()) return
    const record = { appliedRevision: this.link.appliedRevision(), lastSeen: new Date().toISOString(), startedAt: this.#startedAt }
    await lease
      .put(this.keys.replica(this.replicaId))
      .value(JSON.stringify(record))
      .exec()
      .catch((error: unknown) => this.logger.debug({ event: 'replica_record_failed', err: error }, 'cannot write this replica\'s record'))
  }

  async #writeCounts(): Promise<void> {
    for (const service of [...this.#dirtyCounts]) {
      this.#dirtyCounts.delete(service)
      const record = this.#ownCounts.get(service)
      const lease = this.link.lease()
      if (record === undefined || lease === undefined || !this.link.connected()) continue
      await lease
        .put(this.keys.counts(service, this.replicaId))
        .value(JSON.stringify({ window: record.window, groups: record.groups }))
        .exec()
        .catch((error: unknown) => this.logger.debug({ event: 'counts_report_failed', service, err: error }, 'cannot write this replica\'s rollout counts'))
    }
  }

  async #writeDrains(): Promise<void> {
    for (const service of [...this.#dirtyDrains]) {
      this.#dirtyDrains.delete(service)
      const record = this.#ownDrains.get(service)
      const lease = this.link.lease()
      if (record === undefined || lease === undefined || !this.link.connected()) continue
      const { service: _service, ...value } = record
      await lease
        .put(this.keys.drain(service, this.replicaId))
        .value(JSON.stringify(value))
        .exec()
        .catch((error: unknown) => this.logger.warn({ event: 'drain_report_failed', service, err: error }, 'cannot write this replica\'s drain report'))
    }
  }
}
