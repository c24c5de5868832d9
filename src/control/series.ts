/**
 * The per-group time series behind `GET /v1/services/{name}/series`: a timer on the control side
 * reads the traffic counters the data side already keeps (DataPlaneLink.stats, summed over the
 * workers in a cluster) and keeps the deltas in a fixed ring per group. Nothing is added to the
 * request path, and memory does not grow with traffic or time.
 */
import { performance } from 'node:perf_hooks'
import { DURATION_BUCKETS, type GroupStats, type StatsRegistry } from '../upstream/stats.js'
import type { WindowCounts } from '../state/shared.js'
import { errorRateOf, groupTotals, quantileOf } from './series-math.js'

/** How often the counters are read. */
export const SERIES_INTERVAL_MS = 2_000
/** How far back the series reaches. */
export const SERIES_WINDOW_MS = 10 * 60_000

const BUCKETS = DURATION_BUCKETS.length + 1

/** Figures over the whole window; null where there were no requests. */
export interface WindowFigures {
  readonly requests: number
  /** This group's share of the service's requests in the window (the observed share). */
  readonly share: number | null
  readonly rps: number
  readonly errorRate: number | null
  readonly answered5xx: number
  readonly upstreamFailures: number
  /** Seconds. */
  readonly p50: number | null
  readonly p99: number | null
}

/** One group's points (aligned with ServiceSeries.times) and its window figures. */
export interface GroupSeries {
  readonly name: string
  readonly requests: readonly number[]
  readonly rps: readonly number[]
  readonly errorRate: readonly (number | null)[]
  /** Seconds. */
  readonly p50: readonly (number | null)[]
  readonly p99: readonly (number | null)[]
  readonly window: WindowFigures
}

export interface ServiceSeries {
  readonly service: string
  readonly intervalSeconds: number
  readonly windowSeconds: number
  /** End of each point, in ms since the epoch, oldest first. */
  readonly times: readonly number[]
  /** Seconds the points cover together. */
  readonly seconds: number
  readonly groups: readonly GroupSeries[]
}

/** One group's deltas per slot, and its counters as they stood at the last sample. */
class GroupRing {
  readonly requests: Float64Array
  readonly answered5xx: Float64Array
  readonly upstreamFailures: Float64Array
  /** BUCKETS counts per slot. */
  readonly durations: Float64Array
  #last: WindowCounts

  constructor(
    readonly stats: GroupStats,
    capacity: number,
  ) {
    this.requests = new Float64Array(capacity)
    this.answered5xx = new Float64Array(capacity)
    this.upstreamFailures = new Float64Array(capacity)
    this.durations = new Float64Array(capacity * BUCKETS)
    this.#last = groupTotals(stats)
  }

  /** Writes the deltas since the last call into `slot`. */
  record(slot: number): void {
    const now = groupTotals(this.stats)
    const last = this.#last
    this.requests[slot] = now.requests - last.requests
    this.answered5xx[slot] = now.answered5xx - last.answered5xx
    this.upstreamFailures[slot] = now.upstreamFailures - last.upstreamFailures
    for (let i = 0; i < BUCKETS; i++) this.durations[slot * BUCKETS + i] = now.durations[i]! - last.durations[i]!
    this.#last = now
  }
}

export interface SeriesOptions {
  readonly intervalMs?: number
  readonly windowMs?: number
  /** Wall clock for the points' times (default Date.now). */
  readonly now?: () => number
  /** Monotonic clock in ms for the seconds each point covers (default performance.now). */
  readonly monotonic?: () => number
}

/** `value` to `decimals` places (shorter JSON), null when undefined. */
function rounded(value: number | undefined, decimals: number): number | null {
  if (value === undefined) return null
  const scale = 10 ** decimals
  return Math.round(value * scale) / scale
}

/** Samples every group's counters on an unref'd timer; reads build the series from the rings. */
export class SeriesSampler {
  readonly #intervalMs: number
  readonly #capacity: number
  readonly #times: Float64Array
  readonly #seconds: Float64Array
  #byService = new Map<string, GroupRing[]>()
  readonly #now: () => number
  readonly #monotonic: () => number
  /** Slot the next point goes to; the ring holds `#size` points ending just before it. */
  #next = 0
  #size = 0
  #lastSampleMs: number
  #timer: NodeJS.Timeout | undefined

  constructor(
    private readonly stats: StatsRegistry,
    options: SeriesOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? SERIES_INTERVAL_MS
    this.#capacity = Math.ceil((options.windowMs ?? SERIES_WINDOW_MS) / this.#intervalMs)
    this.#times = new Float64Array(this.#capacity)
    this.#seconds = new Float64Array(this.#capacity)
    this.#now = options.now ?? Date.now
    this.#monotonic = options.monotonic ?? (() => performance.now())
    this.#lastSampleMs = this.#monotonic()
    this.reconfigure()
  }

  /**
   * Follows the groups of a reloaded config: a group that stays keeps its ring, a new one starts
   * empty (its earlier points read 0), a dropped one goes.
   */
  reconfigure(): void {
    const byService = new Map<string, GroupRing[]>()
    for (const group of this.stats.all()) {
      let rings = byService.get(group.service)
      if (rings === undefined) byService.set(group.service, (rings = []))
      rings.push(this.#byService.get(group.service)?.find((ring) => ring.stats === group) ?? new GroupRing(group, this.#capacity))
    }
    this.#byService = byService
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.sample(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Takes one point: the counters' deltas since the previous one. */
  sample(): void {
    const slot = this.#next
    const nowMs = this.#monotonic()
    this.#times[slot] = this.#now()
    this.#seconds[slot] = Math.max(0, nowMs - this.#lastSampleMs) / 1000
    this.#lastSampleMs = nowMs
    for (const rings of this.#byService.values()) for (const ring of rings) ring.record(slot)
    this.#next = (slot + 1) % this.#capacity
    this.#size = Math.min(this.#size + 1, this.#capacity)
  }

  /** The series of one service, oldest point first; undefined for an unknown service. */
  seriesOf(service: string): ServiceSeries | undefined {
    const rings = this.#byService.get(service)
    if (rings === undefined) return undefined
    const slots: number[] = []
    for (let i = this.#size; i > 0; i--) slots.push((this.#next - i + this.#capacity) % this.#capacity)
    let seconds = 0
    for (const slot of slots) seconds += this.#seconds[slot]!
    let serviceRequests = 0
    for (const ring of rings) for (const slot of slots) serviceRequests += ring.requests[slot]!
    return {
      service,
      intervalSeconds: this.#intervalMs / 1000,
      windowSeconds: (this.#capacity * this.#intervalMs) / 1000,
      times: slots.map((slot) => this.#times[slot]!),
      seconds: rounded(seconds, 3)!,
      groups: rings.map((ring) => this.#groupSeries(ring, slots, seconds, serviceRequests)),
    }
  }

  #groupSeries(ring: GroupRing, slots: readonly number[], seconds: number, serviceRequests: number): GroupSeries {
    const requests: number[] = []
    const rps: number[] = []
    const errorRate: (number | null)[] = []
    const p50: (number | null)[] = []
    const p99: (number | null)[] = []
    const windowDurations = new Float64Array(BUCKETS)
    let total = 0
    let answered5xx = 0
    let upstreamFailures = 0
    for (const slot of slots) {
      const count = ring.requests[slot]!
      const durations = ring.durations.subarray(slot * BUCKETS, (slot + 1) * BUCKETS)
      const covered = this.#seconds[slot]!
      requests.push(count)
      rps.push(covered > 0 ? rounded(count / covered, 3)! : 0)
      errorRate.push(rounded(errorRateOf(count, ring.answered5xx[slot]!, ring.upstreamFailures[slot]!), 4))
      p50.push(rounded(quantileOf(durations, DURATION_BUCKETS, 0.5), 6))
      p99.push(rounded(quantileOf(durations, DURATION_BUCKETS, 0.99), 6))
      total += count
      answered5xx += ring.answered5xx[slot]!
      upstreamFailures += ring.upstreamFailures[slot]!
      for (let i = 0; i < BUCKETS; i++) windowDurations[i]! += durations[i]!
    }
    return {
      name: ring.stats.group,
      requests,
      rps,
      errorRate,
      p50,
      p99,
      window: {
        requests: total,
        share: serviceRequests > 0 ? rounded(total / serviceRequests, 4) : null,
        rps: seconds > 0 ? rounded(total / seconds, 3)! : 0,
        errorRate: rounded(errorRateOf(total, answered5xx, upstreamFailures), 4),
        answered5xx,
        upstreamFailures,
        p50: rounded(quantileOf(windowDurations, DURATION_BUCKETS, 0.5), 6),
        p99: rounded(quantileOf(windowDurations, DURATION_BUCKETS, 0.99), 6),
      },
    }
  }
}
