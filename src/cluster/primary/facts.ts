import type { Config } from '../../config/types.js'
import type { SnapshotSpec } from '../../routing/spec.js'
import type { InstanceId } from '../../upstream/instance.js'
import { FAILURE_KINDS, type FailureKind, type OutcomeSink } from '../../upstream/outcomes.js'
import { decodeSketch, mergeSketch } from '../../upstream/client-sketch.js'
import { StatsRegistry } from '../../upstream/stats.js'
import type { FailureCounts, FailureMessage, GroupReport, InstanceReport, ReportMessage } from '../messages.js'

/** One worker's latest values for one instance. */
interface Latest {
  inflight: number
  failuresInARow: number
  fivexxInARow: number
}

/**
 * What the workers report, summed for the primary's control side: traffic counters per group
 * (`/metrics`), requests running per instance (status, drains), and failures and 5xx streaks
 * handed to health's outcome sink with the longest streak any worker saw (each worker sees only
 * its share of an instance's requests).
 */
export class WorkerFacts {
  /** The sum of every worker's traffic counters. */
  readonly stats: StatsRegistry
  readonly #latest = new Map<number, Map<InstanceId, Latest>>()
  #live: ReadonlySet<InstanceId> = new Set()

  constructor(
    config: Config,
    private readonly outcomes: OutcomeSink,
  ) {
    this.stats = new StatsRegistry(config)
  }

  /**
   * Follows a new spec: instances it no longer names are forgotten, and streaks of instances that
   * entered or left rotation are cleared (each worker clears its own as it applies the spec).
   */
  onSpec(spec: SnapshotSpec): void {
    const known = new Set<InstanceId>()
    const live = new Set<InstanceId>()
    for (const service of spec.services) {
      for (const group of service.groups) {
        for (const instance of group.live) {
          known.add(instance.id)
          live.add(instance.id)
        }
        for (const instance of group.standby) known.add(instance.id)
      }
    }
    for (const perWorker of this.#latest.values()) {
      for (const [id, latest] of perWorker) {
        if (!known.has(id)) perWorker.delete(id)
        else if (live.has(id) !== this.#live.has(id)) latest.failuresInARow = latest.fivexxInARow = 0
      }
    }
    this.#live = live
  }

  /** Applies one worker's report (instances and groups; drains are RemoteDrains' part). */
  apply(worker: number, report: ReportMessage): void {
    const perWorker = this.#latestOf(worker)
    for (const entry of report.instances) this.#applyInstance(perWorker, entry)
    for (const group of report.groups) this.#applyGroup(group)
  }

  /** A failed attempt in a worker: health hears it at once, with the longest streak. */
  applyFailure(worker: number, message: FailureMessage): void {
    const latest = this.#entry(this.#latestOf(worker), message.instance)
    latest.failuresInARow = message.inARow
    this.outcomes.attemptFailed(message.instance, message.kind, this.#longest(message.instance, 'failuresInARow'))
  }

  /** Requests running on an instance, over every worker. */
  inflightOf(id: InstanceId): number {
    let total = 0
    for (const perWorker of this.#latest.values()) total += perWorker.get(id)?.inflight ?? 0
    return total
  }

  /** Requests one worker last reported running on an instance. */
  inflightIn(worker: number, id: InstanceId): number {
    return this.#latest.get(worker)?.get(id)?.inflight ?? 0
  }

  /** A worker exited: its load no longer counts (its totals stay). */
  forgetWorker(worker: number): void {
    this.#latest.delete(worker)
  }

  #applyInstance(perWorker: Map<InstanceId, Latest>, report: InstanceReport): void {
    const latest = this.#entry(perWorker, report.instance)
    const more5xx = report.fivexxInARow > latest.fivexxInARow
    latest.inflight = report.inflight
    latest.failuresInARow = report.failuresInARow
    latest.fivexxInARow = report.fivexxInARow
    if (more5xx) this.outcomes.answered5xx(report.instance, this.#longest(report.instance, 'fivexxInARow'))
  }

  #longest(id: InstanceId, streak: 'failuresInARow' | 'fivexxInARow'): number {
    let longest = 0
    for (const perWorker of this.#latest.values()) longest = Math.max(longest, perWorker.get(id)?.[streak] ?? 0)
    return longest
  }

  #latestOf(worker: number): Map<InstanceId, Latest> {
    let perWorker = this.#latest.get(worker)
    if (perWorker === undefined) this.#latest.set(worker, (perWorker = new Map()))
    return perWorker
  }

  #entry(perWorker: Map<InstanceId, Latest>, id: InstanceId): Latest {
    let latest = perWorker.get(id)
    if (latest === undefined) perWorker.set(id, (latest = { inflight: 0, failuresInARow: 0, fivexxInARow: 0 }))
    return latest
  }

  #applyGroup(report: GroupReport): void {
    const stats = this.stats.forService(report.service).get(report.group)
    if (stats === undefined) return
    for (let i = 0; i + 1 < report.statuses.length; i += 2) {
      const code = report.statuses[i]!
      if (code >= 0 && code < stats.responsesByStatus.length) stats.responsesByStatus[code]! += report.statuses[i + 1]!
    }
    for (let i = 0; i + 1 < report.durations.length; i += 2) {
      const bucket = report.durations[i]!
      if (bucket >= 0 && bucket < stats.durationCounts.length) stats.durationCounts[bucket]! += report.durations[i + 1]!
    }
    stats.durationSum += report.durationSum
    stats.durationCount += report.durationCount
    addFailures(stats.upstreamErrors, report.upstreamErrors)
    stats.retries += report.retries
    for (const [to, count] of Object.entries(report.redispatched)) stats.recordRedispatch(to, count)
    const clients = report.clients === undefined ? undefined : decodeSketch(report.clients)
    if (clients !== undefined) mergeSketch(stats.clients, clients)
  }
}

function addFailures(totals: Record<FailureKind, number>, deltas: FailureCounts): void {
  for (const kind of FAILURE_KINDS) {
    const delta = deltas[kind]
    if (delta !== undefined) totals[kind] += delta
  }
}
