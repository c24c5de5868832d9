/** The figures the series shows, worked out from counter deltas; pure. */

import type { WindowCounts } from '../state/shared.js'
import type { GroupStats } from '../upstream/stats.js'

/**
 * The q-quantile (0..1) of a histogram of plain (not cumulative) bucket counts, in the unit of
 * `bounds`, interpolated linearly inside the bucket it falls in, as Prometheus' histogram_quantile
 * does. `counts` has one more entry than `bounds`: the +Inf bucket, whose quantiles read as the last
 * finite bound. Undefined when the histogram is empty.
 */
export function quantileOf(counts: ArrayLike<number>, bounds: readonly number[], q: number): number | undefined {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i]!
  if (!(total > 0)) return undefined
  const rank = q * total
  let below = 0
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!
    if (count > 0 && below + count >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1]
      const lower = i === 0 ? 0 : bounds[i - 1]!
      return lower + (bounds[i]! - lower) * Math.max(0, (rank - below) / count)
    }
    below += count
  }
  return bounds[bounds.length - 1]
}

/**
 * Share of requests that went wrong: 5xx answers plus failed attempts on an instance, over the
 * requests answered. A failed attempt may also have ended as a 502, so the sum can pass the
 * requests; the rate stops at 1. Undefined without requests.
 */
export function errorRateOf(requests: number, answered5xx: number, upstreamFailures: number): number | undefined {
  if (!(requests > 0)) return undefined
  return Math.min(1, (answered5xx + upstreamFailures) / requests)
}

/** Responses counted in `byStatus` (index = status code), and how many of them were 5xx. */
export function countResponses(byStatus: ArrayLike<number>): { responses: number; answered5xx: number } {
  let responses = 0
  let answered5xx = 0
  for (let code = 100; code < byStatus.length; code++) {
    const count = byStatus[code]!
    responses += count
    if (code >= 500) answered5xx += count
  }
  return { responses, answered5xx }
}

/** A group's counters since start, as the series, the rollout windows and their deltas read them. */
export function groupTotals(stats: GroupStats): WindowCounts {
  const { responses, answered5xx } = countResponses(stats.responsesByStatus)
  let upstreamFailures = 0
  // Every kind, whatever kinds the data plane counts.
  for (const count of Object.values(stats.upstreamErrors)) upstreamFailures += count
  return { requests: responses, answered5xx, upstreamFailures, durations: Array.from(stats.durationCounts) }
}
