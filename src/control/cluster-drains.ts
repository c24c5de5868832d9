import type { SharedStore } from '../state/shared.js'
import type { EventBus } from '../support/events.js'
import type { Logger } from '../support/log.js'
import type { DrainCounts } from './change-rules.js'
import type { DrainPeers, DrainStatus, ReplicaDrain } from './drain.js'

const COUNT_KEYS = ['inflightAtStart', 'completed', 'cut', 'remaining'] as const

/**
 * A cut-over's drain across replicas. Each replica drains its own connections and writes how far
 * it got under its lease (SharedStore.reportDrain); the drain is over when every live replica's
 * part is. A replica that is gone (its lease expired) is not waited for; one that has not applied
 * the cut-over yet is (`pending`). Every replica publishes `cutover_completed` once, when it sees
 * the whole fleet done; the phase is the worst of the parts (superseded, then deadline, then drained).
 */
export class ClusterDrains implements DrainPeers {
  readonly #local = new Map<string, DrainStatus>()
  readonly #announced = new Set<string>()

  constructor(
    private readonly store: SharedStore,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  report(status: DrainStatus, joined = false): void {
    const { service, revision, phase, inflight, counts } = status
    this.#local.set(service, status)
    this.store.reportDrain(counts === undefined ? { service, revision, phase, inflight } : { service, revision, phase, inflight, counts: { ...counts } })
    // A drain this replica joined after the fact is announced by the replicas that ran it.
    if (joined) this.#announced.add(`${service}@${revision}`)
    this.check()
  }

  combine(local: DrainStatus): DrainStatus {
    const self = this.store.replicaId
    const ids = new Set(this.store.replicas().map((replica) => replica.id))
    ids.add(self)
    const records = this.store.drains(local.service)
    const parts: (ReplicaDrain & { counts?: Readonly<Record<string, number>> })[] = [...ids].sort().map((id) => {
      if (id === self) return { replica: id, phase: local.phase, inflight: local.inflight, ...(local.counts === undefined ? {} : { counts: { ...local.counts } }) }
      const record = records.find((candidate) => candidate.replica === id && candidate.revision === local.revision)
      if (record === undefined) return { replica: id, phase: 'pending', inflight: 0 }
      const phase = (['draining', 'drained', 'deadline', 'superseded'] as const).find((known) => known === record.phase) ?? 'draining'
      return { replica: id, phase, inflight: record.inflight, ...(record.counts === undefined ? {} : { counts: record.counts }) }
    })
    const replicas = parts.map(({ replica, phase, inflight }) => ({ replica, phase, inflight }))
    const running = parts.filter((part) => part.phase === 'draining' || part.phase === 'pending')
    if (running.length > 0) {
      const { counts: _counts, ...rest } = local
      return { ...rest, phase: 'draining', inflight: running.reduce((sum, part) => sum + part.inflight, 0), replicas }
    }
    const phase = parts.some((part) => part.phase === 'superseded') ? 'superseded' : parts.some((part) => part.phase === 'deadline') ? 'deadline' : 'drained'
    const counts = Object.fromEntries(COUNT_KEYS.map((key) => [key, parts.reduce((sum, part) => sum + (part.counts?.[key] ?? 0), 0)])) as unknown as DrainCounts
    return { ...local, phase, inflight: 0, counts, replicas }
  }

  /** Publishes `cutover_completed` for each cut-over the whole fleet has finished draining. */
  check(): void {
    for (const local of this.#local.values()) {
      const key = `${local.service}@${local.revision}`
      if (this.#announced.has(key)) continue
      const fleet = this.combine(local)
      if (fleet.phase === 'draining') continue
      this.#announced.add(key)
      const { service, to, from, revision, drainSeconds, phase: outcome } = fleet
      const durationMs = Date.now() - Date.parse(fleet.startedAt)
      const payload = { service, to, from, revision, drainSeconds, outcome, durationMs, ...fleet.counts, replicas: fleet.replicas?.length ?? 1 }
      this.events.publish('cutover_completed', payload)
      this.logger.info({ event: 'cutover_completed', ...payload }, `cut-over of ${service} to ${to}: ${outcome} on every replica`)
    }
  }
}
