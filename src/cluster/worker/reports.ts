import type { FailureKind } from '../../proxy/errors.js'
import type { GroupStats, StatsRegistry } from '../../upstream/stats.js'
import type { Upstream } from '../../upstream/pools.js'
import type { DetachedReport, FailureCounts, GroupReport, ReportMessage, UpstreamReport } from '../messages.js'

const KINDS: readonly FailureKind[] = ['connect', 'reset', 'timeout', 'other']

/** Totals of one Upstream object as last reported. */
interface UpstreamMark {
  responses: number
  readonly failures: Record<FailureKind, number>
}

/**
 * One instance (`service|key`). An instance that left and came back while its old object still
 * drained has two Upstream objects; the report sums them.
 */
interface InstanceEntry {
  readonly service: string
  readonly key: string
  readonly upstreams: Set<Upstream>
  /** The newest object: its streaks are the instance's. */
  current: Upstream
  sent: { inflight: number; consecutiveFailures: number; consecutive5xx: number }
}

/** GroupStats values as last reported. */
interface GroupMark {
  readonly stats: GroupStats
  readonly statuses: Float64Array
  readonly durations: Float64Array
  durationSum: number
  durationCount: number
  readonly upstreamErrors: Record<FailureKind, number>
  retries: number
}

interface DetachedEntry {
  readonly pool: { readonly stats: { readonly size: number } }
  closed: boolean
  sent: { running: number; closed: boolean } | undefined
}

/**
 * Builds a worker's reports from the counters its data plane already bumps (Upstream, GroupStats,
 * pool stats) and remembers what it sent, so a report carries only what changed: current values
 * for load and streaks, deltas for totals. The hot path does nothing extra.
 */
export class ReportBuilder {
  readonly #instances = new Map<string, InstanceEntry>()
  readonly #marks = new Map<Upstream, UpstreamMark>()
  readonly #groups: GroupMark[] = []
  readonly #detached = new Map<number, DetachedEntry>()

  constructor(stats: StatsRegistry) {
    for (const group of stats.all()) {
      this.#groups.push({
        stats: group,
        statuses: new Float64Array(group.responsesByStatus),
        durations: new Float64Array(group.durationCounts),
        durationSum: group.durationSum,
        durationCount: group.durationCount,
        upstreamErrors: { ...group.upstreamErrors },
        retries: group.retries,
      })
    }
  }

  /** Follows `upstream` from now on (idempotent); call for every instance of every snapshot. */
  track(upstream: Upstream): void {
    if (this.#marks.has(upstream)) return
    this.#marks.set(upstream, { responses: upstream.responses, failures: { ...upstream.failures } })
    const id = `${upstream.serviceName}|${upstream.key}`
    const entry = this.#instances.get(id)
    if (entry === undefined) {
      const sent = { inflight: 0, consecutiveFailures: 0, consecutive5xx: 0 }
      this.#instances.set(id, { service: upstream.serviceName, key: upstream.key, upstreams: new Set([upstream]), current: upstream, sent })
    } else {
      entry.upstreams.add(upstream)
      entry.current = upstream
    }
  }

  /** Follows a pool a cut-over detached, reported as `id` until it closed. */
  trackDetached(id: number, pool: DetachedEntry['pool'], closed: Promise<void>): void {
    const entry: DetachedEntry = { pool, closed: false, sent: undefined }
    this.#detached.set(id, entry)
    void closed.then(() => (entry.closed = true))
  }

  /** A detach the worker has nothing for: report it closed at once. */
  closedAtOnce(id: number): void {
    this.#detached.set(id, { pool: { stats: { size: 0 } }, closed: true, sent: undefined })
  }

  /** The streak a failure message carries; the next report needs not repeat it. */
  failureStreak(upstream: Upstream): number {
    const entry = this.#instances.get(`${upstream.serviceName}|${upstream.key}`)
    if (entry !== undefined && entry.current === upstream) entry.sent.consecutiveFailures = upstream.consecutiveFailures
    return upstream.consecutiveFailures
  }

  /** What changed since the last call, or undefined when nothing did. */
  build(): ReportMessage | undefined {
    const upstreams = this.#upstreamReports()
    const groups = this.#groupReports()
    const detached = this.#detachedReports()
    if (upstreams.length === 0 && groups.length === 0 && detached.length === 0) return undefined
    return { type: 'report', upstreams, groups, detached }
  }

  #upstreamReports(): UpstreamReport[] {
    const reports: UpstreamReport[] = []
    for (const [id, entry] of this.#instances) {
      let inflight = 0
      let responses = 0
      const failures: FailureCounts = {}
      let totalsChanged = false
      for (const upstream of entry.upstreams) {
        inflight += upstream.inflight
        const mark = this.#marks.get(upstream)!
        if (upstream.responses !== mark.responses) {
          responses += upstream.responses - mark.responses
          mark.responses = upstream.responses
          totalsChanged = true
        }
        for (const kind of KINDS) {
          const delta = upstream.failures[kind] - mark.failures[kind]
          if (delta === 0) continue
          failures[kind] = (failures[kind] ?? 0) + delta
          mark.failures[kind] = upstream.failures[kind]
          totalsChanged = true
        }
      }
      const { consecutiveFailures, consecutive5xx } = entry.current
      const sent = entry.sent
      if (totalsChanged || inflight !== sent.inflight || consecutiveFailures !== sent.consecutiveFailures || consecutive5xx !== sent.consecutive5xx) {
        entry.sent = { inflight, consecutiveFailures, consecutive5xx }
        reports.push({ service: entry.service, key: entry.key, inflight, consecutiveFailures, consecutive5xx, responses, failures })
      }
      // A drained object with nothing left running has said all it will; forget it.
      for (const upstream of entry.upstreams) {
        if (upstream.draining && upstream.inflight === 0) {
          entry.upstreams.delete(upstream)
          this.#marks.delete(upstream)
        }
      }
      if (entry.upstreams.size === 0) this.#instances.delete(id)
    }
    return reports
  }

  #groupReports(): GroupReport[] {
    const reports: GroupReport[] = []
    for (const mark of this.#groups) {
      const stats = mark.stats
      if (stats.durationCount === mark.durationCount && sameStatuses(stats, mark) && sameErrors(stats, mark) && stats.retries === mark.retries) continue
      reports.push({
        service: stats.service,
        group: stats.group,
        statuses: deltaPairs(stats.responsesByStatus, mark.statuses),
        durations: deltaPairs(stats.durationCounts, mark.durations),
        durationSum: stats.durationSum - mark.durationSum,
        durationCount: stats.durationCount - mark.durationCount,
        upstreamErrors: errorDeltas(stats, mark),
        retries: stats.retries - mark.retries,
      })
      mark.durationSum = stats.durationSum
      mark.durationCount = stats.durationCount
      mark.retries = stats.retries
    }
    return reports
  }

  #detachedReports(): DetachedReport[] {
    const reports: DetachedReport[] = []
    for (const [id, entry] of this.#detached) {
      const running = entry.closed ? 0 : entry.pool.stats.size
      if (entry.sent !== undefined && entry.sent.running === running && entry.sent.closed === entry.closed) continue
      entry.sent = { running, closed: entry.closed }
      reports.push({ id, running, closed: entry.closed })
      if (entry.closed) this.#detached.delete(id)
    }
    return reports
  }
}

function sameStatuses(stats: GroupStats, mark: GroupMark): boolean {
  const now = stats.responsesByStatus
  for (let code = 100; code < now.length; code++) if (now[code] !== mark.statuses[code]) return false
  return true
}

function sameErrors(stats: GroupStats, mark: GroupMark): boolean {
  for (const kind of KINDS) if (stats.upstreamErrors[kind] !== mark.upstreamErrors[kind]) return false
  return true
}

/** Flat (index, delta) pairs of the entries that changed; updates `last` to `now`. */
function deltaPairs(now: Float64Array, last: Float64Array): number[] {
  const pairs: number[] = []
  for (let i = 0; i < now.length; i++) {
    if (now[i] === last[i]) continue
    pairs.push(i, now[i]! - last[i]!)
    last[i] = now[i]!
  }
  return pairs
}

function errorDeltas(stats: GroupStats, mark: GroupMark): FailureCounts {
  const deltas: FailureCounts = {}
  for (const kind of KINDS) {
    const delta = stats.upstreamErrors[kind] - mark.upstreamErrors[kind]
    if (delta === 0) continue
    deltas[kind] = delta
    mark.upstreamErrors[kind] = stats.upstreamErrors[kind]
  }
  return deltas
}
