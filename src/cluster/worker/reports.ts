import type { Instance, InstanceId } from '../../upstream/instance.js'
import { FAILURE_KINDS, type FailureKind } from '../../upstream/outcomes.js'
import type { DetachedPool } from '../../upstream/pools.js'
import { encodeSketch, sketchEmpty } from '../../upstream/client-sketch.js'
import type { GroupStats, StatsRegistry } from '../../upstream/stats.js'
import type { DetachedReport, FailureCounts, GroupReport, InstanceReport, ReportMessage } from '../messages.js'

/** What the reports read of the worker's data plane. */
export interface ReportedDataPlane {
  readonly stats: StatsRegistry
  /** The instances of the current snapshot. */
  instances(): Iterable<Instance>
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
  readonly redispatched: Map<string, number>
}

interface DetachedEntry {
  readonly pool: Pick<DetachedPool, 'running'>
  closed: boolean
  sent: { running: number; closed: boolean } | undefined
}

/**
 * Builds a worker's reports from the counters its data plane already keeps (instances, group stats,
 * detached pools) and remembers what it sent, so a report carries only what changed: current values
 * for load and streaks, deltas for totals. The hot path does nothing extra.
 */
export class ReportBuilder {
  readonly #sent = new Map<InstanceId, InstanceReport>()
  /** By GroupStats object: a reload keeps the objects of groups that stay, adds and drops the others. */
  #groups = new Map<GroupStats, GroupMark>()
  readonly #detached = new Map<number, DetachedEntry>()

  constructor(private readonly dataPlane: ReportedDataPlane) {
    for (const group of dataPlane.stats.all()) this.#groups.set(group, markOf(group))
  }

  /** Follows connections a cut-over detached, reported as `id` until they are closed. */
  trackDetached(id: number, detached: DetachedPool): void {
    const entry: DetachedEntry = { pool: detached, closed: false, sent: undefined }
    this.#detached.set(id, entry)
    void detached.closed.then(() => (entry.closed = true))
  }

  /** What changed since the last call, or undefined when nothing did. */
  build(): ReportMessage | undefined {
    const instances = this.#instanceReports()
    const groups = this.#groupReports()
    const detached = this.#detachedReports()
    if (instances.length === 0 && groups.length === 0 && detached.length === 0) return undefined
    return { type: 'report', instances, groups, detached }
  }

  #instanceReports(): InstanceReport[] {
    const reports: InstanceReport[] = []
    const current = new Set<InstanceId>()
    for (const { id, inflight, failuresInARow, fivexxInARow } of this.dataPlane.instances()) {
      current.add(id)
      const sent = this.#sent.get(id)
      if (sent !== undefined && sent.inflight === inflight && sent.failuresInARow === failuresInARow && sent.fivexxInARow === fivexxInARow) continue
      const report = { instance: id, inflight, failuresInARow, fivexxInARow }
      this.#sent.set(id, report)
      reports.push(report)
    }
    // An instance left the snapshot: the primary forgets it too.
    for (const id of this.#sent.keys()) if (!current.has(id)) this.#sent.delete(id)
    return reports
  }

  #groupReports(): GroupReport[] {
    const reports: GroupReport[] = []
    const groups = new Map<GroupStats, GroupMark>()
    for (const stats of this.dataPlane.stats.all()) {
      // A group a reload added counts from 0: everything it has is still to report.
      groups.set(stats, this.#groups.get(stats) ?? markOf(undefined, stats))
    }
    this.#groups = groups
    for (const mark of groups.values()) {
      const stats = mark.stats
      const redispatched = redispatchDeltas(stats, mark)
      const noClients = sketchEmpty(stats.clients)
      if (noClients && stats.durationCount === mark.durationCount && sameStatuses(stats, mark) && sameErrors(stats, mark) && stats.retries === mark.retries && redispatched === undefined) continue
      const report: GroupReport = {
        service: stats.service,
        group: stats.group,
        statuses: deltaPairs(stats.responsesByStatus, mark.statuses),
        durations: deltaPairs(stats.durationCounts, mark.durations),
        durationSum: stats.durationSum - mark.durationSum,
        durationCount: stats.durationCount - mark.durationCount,
        upstreamErrors: errorDeltas(stats, mark),
        retries: stats.retries - mark.retries,
        redispatched: redispatched ?? {},
      }
      // The primary keeps the union; this worker starts a new sketch for the next report.
      if (noClients) reports.push(report)
      else {
        reports.push({ ...report, clients: encodeSketch(stats.clients) })
        stats.clients.fill(0)
      }
      mark.durationSum = stats.durationSum
      mark.durationCount = stats.durationCount
      mark.retries = stats.retries
    }
    return reports
  }

  #detachedReports(): DetachedReport[] {
    const reports: DetachedReport[] = []
    for (const [id, entry] of this.#detached) {
      const running = entry.closed ? 0 : entry.pool.running()
      if (entry.sent !== undefined && entry.sent.running === running && entry.sent.closed === entry.closed) continue
      entry.sent = { running, closed: entry.closed }
      reports.push({ id, running, closed: entry.closed })
      if (entry.closed) this.#detached.delete(id)
    }
    return reports
  }
}

/** The mark of `group` as it is now, or (`from` undefined) of a group that has counted nothing yet. */
function markOf(group: GroupStats | undefined, stats: GroupStats = group!): GroupMark {
  return {
    stats,
    statuses: group === undefined ? new Float64Array(stats.responsesByStatus.length) : new Float64Array(group.responsesByStatus),
    durations: group === undefined ? new Float64Array(stats.durationCounts.length) : new Float64Array(group.durationCounts),
    durationSum: group?.durationSum ?? 0,
    durationCount: group?.durationCount ?? 0,
    upstreamErrors: group === undefined ? (Object.fromEntries(FAILURE_KINDS.map((kind) => [kind, 0])) as Record<FailureKind, number>) : { ...group.upstreamErrors },
    retries: group?.retries ?? 0,
    redispatched: new Map(group?.redispatchedTo ?? []),
  }
}

function sameStatuses(stats: GroupStats, mark: GroupMark): boolean {
  const now = stats.responsesByStatus
  for (let code = 100; code < now.length; code++) if (now[code] !== mark.statuses[code]) return false
  return true
}

function sameErrors(stats: GroupStats, mark: GroupMark): boolean {
  for (const kind of FAILURE_KINDS) if (stats.upstreamErrors[kind] !== mark.upstreamErrors[kind]) return false
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
  for (const kind of FAILURE_KINDS) {
    const delta = stats.upstreamErrors[kind] - mark.upstreamErrors[kind]
    if (delta === 0) continue
    deltas[kind] = delta
    mark.upstreamErrors[kind] = stats.upstreamErrors[kind]
  }
  return deltas
}

/** Redispatches per target group since the last report (undefined when none); updates the mark. */
function redispatchDeltas(stats: GroupStats, mark: GroupMark): Record<string, number> | undefined {
  let deltas: Record<string, number> | undefined
  for (const [to, count] of stats.redispatchedTo) {
    const delta = count - (mark.redispatched.get(to) ?? 0)
    if (delta === 0) continue
    ;(deltas ??= {})[to] = delta
    mark.redispatched.set(to, count)
  }
  return deltas
}

