import type { FailureKind } from '../../proxy/errors.js'
import type { StatsRegistry } from '../../upstream/stats.js'
import type { Upstream } from '../../upstream/pools.js'
import type { RouteTable } from '../../routing/types.js'
import type { FailureCounts, FailureMessage, GroupReport, KnownUpstream, ReportMessage } from '../messages.js'

const KINDS: readonly FailureKind[] = ['connect', 'reset', 'timeout', 'other']

/** One worker's latest values for one instance. */
interface Latest {
  inflight: number
  consecutiveFailures: number
  consecutive5xx: number
}

function idOf(service: string, key: string): string {
  return `${service}|${key}`
}

/**
 * Applies what workers report to the primary's own Upstream objects and StatsRegistry, so health,
 * `/metrics` and status read them as in a single process: inflight is the sum over workers, the
 * streaks the longest any worker saw, totals grow by the reported deltas.
 *
 * The primary's Upstream of an instance is found by `service|key` among what discovery knows; an
 * instance that left stays mapped until no worker reports requests running on it.
 */
export class WorkerFacts {
  readonly #upstreams = new Map<string, Upstream>()
  readonly #known = new Set<string>()
  readonly #latest = new Map<number, Map<string, Latest>>()
  #live: ReadonlySet<Upstream> = new Set()

  constructor(
    private readonly knownUpstreams: () => Iterable<KnownUpstream>,
    private readonly stats: StatsRegistry,
  ) {}

  /** Follows the instances of a new snapshot; call on every swap. */
  onSwap(table: RouteTable<Upstream>): void {
    this.#known.clear()
    for (const { upstream } of this.knownUpstreams()) {
      const id = idOf(upstream.serviceName, upstream.key)
      this.#known.add(id)
      const old = this.#upstreams.get(id)
      // The instance came back as a new object: the old one's load moves over with the reports.
      if (old !== undefined && old !== upstream) old.inflight = 0
      if (old !== upstream) {
        this.#upstreams.set(id, upstream)
        this.#recompute(id)
      }
    }
    for (const id of [...this.#upstreams.keys()]) if (!this.#known.has(id)) this.#recompute(id)
    const live = new Set<Upstream>()
    for (const service of table.services) for (const group of service.groups) for (const upstream of group.instances) live.add(upstream)
    for (const upstream of live) {
      if (this.#live.has(upstream)) continue
      // Health cleared this instance's streaks as it turned live; stale worker values must not return.
      const id = idOf(upstream.serviceName, upstream.key)
      for (const perWorker of this.#latest.values()) {
        const latest = perWorker.get(id)
        if (latest !== undefined) latest.consecutiveFailures = latest.consecutive5xx = 0
      }
    }
    this.#live = live
  }

  /** Applies one worker's report (instances and groups; drains are RemoteDrains' part). */
  apply(worker: number, report: ReportMessage): void {
    const latest = this.#latestOf(worker)
    for (const entry of report.upstreams) {
      const id = idOf(entry.service, entry.key)
      latest.set(id, { inflight: entry.inflight, consecutiveFailures: entry.consecutiveFailures, consecutive5xx: entry.consecutive5xx })
      const upstream = this.#upstreams.get(id)
      if (upstream !== undefined) {
        upstream.responses += entry.responses
        addFailures(upstream.failures, entry.failures)
      }
      this.#recompute(id)
    }
    for (const group of report.groups) this.#applyGroup(group)
  }

  /** A failed attempt in a worker: the streak now, and health's immediate reaction. */
  applyFailure(worker: number, message: FailureMessage): void {
    const id = idOf(message.service, message.key)
    const latest = this.#latestOf(worker)
    const entry = latest.get(id)
    if (entry === undefined) latest.set(id, { inflight: 0, consecutiveFailures: message.consecutiveFailures, consecutive5xx: 0 })
    else entry.consecutiveFailures = message.consecutiveFailures
    this.#recompute(id)
    const upstream = this.#upstreams.get(id)
    upstream?.onFailure?.(upstream, message.kind)
  }

  /** Requests one worker last reported running on an instance. */
  inflightOf(worker: number, upstream: Upstream): number {
    return this.#latest.get(worker)?.get(idOf(upstream.serviceName, upstream.key))?.inflight ?? 0
  }

  /** A worker exited: its load no longer counts (its totals stay). */
  forgetWorker(worker: number): void {
    const latest = this.#latest.get(worker)
    if (latest === undefined) return
    this.#latest.delete(worker)
    for (const id of latest.keys()) this.#recompute(id)
  }

  #latestOf(worker: number): Map<string, Latest> {
    let latest = this.#latest.get(worker)
    if (latest === undefined) {
      latest = new Map()
      this.#latest.set(worker, latest)
    }
    return latest
  }

  /** Sets the primary's Upstream from every worker's latest values; forgets instances that are gone and idle. */
  #recompute(id: string): void {
    let inflight = 0
    let consecutiveFailures = 0
    let consecutive5xx = 0
    for (const perWorker of this.#latest.values()) {
      const latest = perWorker.get(id)
      if (latest === undefined) continue
      inflight += latest.inflight
      consecutiveFailures = Math.max(consecutiveFailures, latest.consecutiveFailures)
      consecutive5xx = Math.max(consecutive5xx, latest.consecutive5xx)
    }
    const upstream = this.#upstreams.get(id)
    if (upstream !== undefined) {
      upstream.inflight = inflight
      upstream.consecutiveFailures = consecutiveFailures
      upstream.consecutive5xx = consecutive5xx
    }
    if (inflight === 0 && !this.#known.has(id)) {
      this.#upstreams.delete(id)
      for (const perWorker of this.#latest.values()) perWorker.delete(id)
    }
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
  }
}

function addFailures(totals: Record<FailureKind, number>, deltas: FailureCounts): void {
  for (const kind of KINDS) {
    const delta = deltas[kind]
    if (delta !== undefined) totals[kind] += delta
  }
}
