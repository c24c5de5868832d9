import type { Config } from '../config/types.js'
import { addToSketch, newSketch } from './client-sketch.js'
import type { FailureKind } from './outcomes.js'

/** Upper bounds (seconds) of the request duration histogram buckets. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
])

/**
 * Per (service, group) traffic counters, bumped by the data plane as plain numbers (no allocation,
 * no label lookups on the hot path) and read by the metrics collector at scrape time.
 */
export class GroupStats {
  /** Responses by status code (index = code), including the proxy's own error answers. */
  readonly responsesByStatus = new Float64Array(600)
  /** Histogram counts per DURATION_BUCKETS entry, plus one for +Inf at the end (not cumulative). */
  readonly durationCounts = new Float64Array(DURATION_BUCKETS.length + 1)
  durationSum = 0
  durationCount = 0
  readonly upstreamErrors: Record<FailureKind, number> = { connect: 0, reset: 0, timeout: 0, other: 0 }
  retries = 0
  /** Requests this group could not take, by the group that took them instead (redispatch). */
  readonly redispatchedTo = new Map<string, number>()
  /**
   * Distinct clients answered since the control side last took the sketch (it clears it every
   * sample; a worker's is cleared at each report). A HyperLogLog sketch: see client-sketch.ts.
   */
  readonly clients = newSketch()

  constructor(
    readonly service: string,
    readonly group: string,
  ) {}

  recordStatus(status: number): void {
    if (status >= 100 && status < 600) this.responsesByStatus[status]!++
  }

  /** Counts the client of an answered request by its sticky key's hash. */
  recordClient(keyHash: number): void {
    addToSketch(this.clients, keyHash)
  }

  recordRedispatch(to: string, count = 1): void {
    this.redispatchedTo.set(to, (this.redispatchedTo.get(to) ?? 0) + count)
  }

  recordDuration(seconds: number): void {
    let i = 0
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++
    this.durationCounts[i]!++
    this.durationSum += seconds
    this.durationCount++
  }
}

/** All GroupStats of a config; a reload adds and drops groups, and those that stay keep counting. */
export class StatsRegistry {
  #byService = new Map<string, Map<string, GroupStats>>()

  constructor(config: Config) {
    this.reconfigure(config)
  }

  /** Follows a new config: new groups start at 0, groups that stay keep their counts, the others go. */
  reconfigure(config: Config): void {
    const byService = new Map<string, Map<string, GroupStats>>()
    for (const service of config.services) {
      const before = this.#byService.get(service.name)
      byService.set(service.name, new Map(service.groups.map((group) => [group.name, before?.get(group.name) ?? new GroupStats(service.name, group.name)])))
    }
    this.#byService = byService
  }

  /** The stats of every group of one service, by group name. */
  forService(service: string): ReadonlyMap<string, GroupStats> {
    return this.#byService.get(service) ?? new Map()
  }

  *all(): Generator<GroupStats> {
    for (const groups of this.#byService.values()) yield* groups.values()
  }
}
