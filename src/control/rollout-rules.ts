/** How a rollout steps and how a step is judged; pure (no I/O, no clock). */

import type { FailedCheck, GroupFigures, RolloutAnalysis, RolloutRecord, StepFigures } from '../state/rollout-record.js'
import type { WindowCounts } from '../state/shared.js'
import type { Weights } from '../state/store.js'
import { DURATION_BUCKETS } from '../upstream/stats.js'
import { errorRateOf, quantileOf } from './series-math.js'

/** The groups a rollout moves traffic away from: those with weight before it, the canary aside. */
export function baselineGroups(before: Weights, to: string): string[] {
  return Object.keys(before).filter((group) => group !== to && (before[group] ?? 0) > 0)
}

/**
 * The weights of a step: the canary gets `percent`, the baseline groups share the rest in the
 * proportions they had before the rollout, every other group 0.
 */
export function stepWeights(groups: readonly string[], before: Weights, to: string, percent: number): Weights {
  const baseline = baselineGroups(before, to)
  let total = 0
  for (const group of baseline) total += before[group]!
  const weights: Record<string, number> = Object.create(null) as Record<string, number>
  for (const group of groups) {
    if (group === to) weights[group] = percent
    else if (baseline.includes(group)) weights[group] = Math.round(((100 - percent) * before[group]!) / total * 1000) / 1000
    else weights[group] = 0
  }
  return Object.freeze(weights)
}

/** Whether step `index` is made as the cut-over itself (100 % to the canary, the others drained). */
export function stepIsCutover(rollout: Pick<RolloutRecord, 'steps' | 'finish'>, index: number): boolean {
  return rollout.finish === 'cutover' && rollout.steps[index] === 100
}

/** Counts summed over groups (and replicas). */
export function addCounts(into: WindowCounts | undefined, more: WindowCounts): WindowCounts {
  if (into === undefined) return { ...more, durations: [...more.durations] }
  const durations = into.durations.map((count, i) => count + (more.durations[i] ?? 0))
  return {
    requests: into.requests + more.requests,
    answered5xx: into.answered5xx + more.answered5xx,
    upstreamFailures: into.upstreamFailures + more.upstreamFailures,
    durations,
  }
}

/** One side's figures from its counts. */
function groupFigures(counts: WindowCounts | undefined): GroupFigures {
  if (counts === undefined) return { requests: 0, errorRate: null, p99Ms: null }
  const errorRate = errorRateOf(counts.requests, counts.answered5xx, counts.upstreamFailures)
  const p99 = quantileOf(counts.durations, DURATION_BUCKETS, 0.99)
  return {
    requests: counts.requests,
    errorRate: errorRate === undefined ? null : Math.round(errorRate * 1e6) / 1e6,
    p99Ms: p99 === undefined ? null : Math.round(p99 * 1e6) / 1e3,
  }
}

/** A window's figures: the canary against the baseline groups together. */
export function windowFigures(
  groups: Readonly<Record<string, WindowCounts>>,
  to: string,
  baseline: readonly string[],
  seconds: number,
  replicas: number,
): StepFigures {
  let summed: WindowCounts | undefined
  for (const group of baseline) if (groups[group] !== undefined) summed = addCounts(summed, groups[group])
  return { seconds: Math.round(seconds * 1000) / 1000, replicas, canary: groupFigures(groups[to]), baseline: groupFigures(summed) }
}

/** What a step's window says now. */
export type Verdict =
  /** A check failed: roll back now. */
  | { readonly kind: 'fail'; readonly failed: readonly FailedCheck[]; readonly reason: string }
  /** The step ran its time with enough requests and nothing failed: next step. */
  | { readonly kind: 'pass' }
  /** Keep the window open (time left, or too few requests yet). */
  | { readonly kind: 'wait'; readonly reason: string }
  /** Too few requests for too long: stop and say so. */
  | { readonly kind: 'pause'; readonly reason: string }

export interface JudgeInput {
  readonly figures: StepFigures
  readonly analysis: RolloutAnalysis
  readonly stepSeconds: number
  /** Seconds since the window opened. */
  readonly elapsedSeconds: number
  /** The baseline groups take traffic in this step (not at a 100 % step). */
  readonly baselineWeighted: boolean
  /** The last earlier step whose baseline had enough requests, for a window whose baseline has too few (1-based). */
  readonly earlierBaseline?: { readonly step: number; readonly figures: GroupFigures }
}

function percentText(rate: number): string {
  return `${(rate * 100).toFixed(2)} %`
}

/**
 * Judges a window. A failed check ends the step at once, whatever time is left (a bad canary is
 * taken out as soon as there are enough requests to tell); passing needs the step's full time.
 * Without minRequests canary requests nothing is judged: the step waits, and pauses after
 * stepSeconds + maxWaitSeconds. With compareToBaseline the canary fails when its error rate
 * exceeds the baseline's by more than maxErrorRate, and the baseline needs minRequests too; in a
 * 100 % step (no baseline traffic) the last earlier step's baseline stands in, and without one the
 * limit applies to the canary alone. p99 is always judged on the canary alone.
 */
export function judge(input: JudgeInput): Verdict {
  const { figures, analysis, stepSeconds, elapsedSeconds } = input
  const canary = figures.canary
  const compare = analysis.compareToBaseline && input.baselineWeighted
  const short = canary.requests < analysis.minRequests || (compare && figures.baseline.requests < analysis.minRequests)
  if (short) {
    const limit = stepSeconds + analysis.maxWaitSeconds
    const baseline = compare ? `, ${figures.baseline.requests} of ${analysis.minRequests} baseline requests` : ''
    const reason = `${canary.requests} of ${analysis.minRequests} canary requests${baseline} in ${Math.floor(elapsedSeconds)} s`
    if (elapsedSeconds >= limit) return { kind: 'pause', reason: `too few requests to judge the step: ${reason} (waited ${stepSeconds} + ${analysis.maxWaitSeconds} s)` }
    return { kind: 'wait', reason: `collecting: ${reason}` }
  }
  const failed: FailedCheck[] = []
  const canaryRate = canary.errorRate ?? 0
  let baselineRate: number | undefined
  if (compare) baselineRate = figures.baseline.errorRate ?? 0
  else if (analysis.compareToBaseline && input.earlierBaseline !== undefined) baselineRate = input.earlierBaseline.figures.errorRate ?? 0
  if (baselineRate === undefined ? canaryRate > analysis.maxErrorRate : canaryRate - baselineRate > analysis.maxErrorRate) {
    failed.push(baselineRate === undefined ? { check: 'errorRate', canary: canaryRate, limit: analysis.maxErrorRate } : { check: 'errorRate', canary: canaryRate, baseline: baselineRate, limit: analysis.maxErrorRate })
  }
  if (analysis.maxP99Ms !== undefined && canary.p99Ms !== null && canary.p99Ms > analysis.maxP99Ms) {
    failed.push({ check: 'p99', canary: canary.p99Ms, limit: analysis.maxP99Ms })
  }
  if (failed.length > 0) return { kind: 'fail', failed, reason: failed.map(describeFailure).join('; ') }
  if (elapsedSeconds < stepSeconds) return { kind: 'wait', reason: `passing so far over ${canary.requests} canary requests; judged at ${stepSeconds} s` }
  return { kind: 'pass' }
}

/** One failed check in words, with its figures. */
function describeFailure(check: FailedCheck): string {
  if (check.check === 'p99') return `canary p99 ${check.canary.toFixed(1)} ms above the limit of ${check.limit} ms`
  if (check.baseline === undefined) return `canary error rate ${percentText(check.canary)} above the limit of ${percentText(check.limit)}`
  return `canary error rate ${percentText(check.canary)} exceeds the baseline's ${percentText(check.baseline)} by more than ${percentText(check.limit)}`
}

/** The last passed step whose baseline had at least `minRequests` requests, for judge's earlierBaseline. */
export function earlierBaseline(rollout: Pick<RolloutRecord, 'results' | 'analysis'>): JudgeInput['earlierBaseline'] {
  for (let i = rollout.results.length - 1; i >= 0; i--) {
    const result = rollout.results[i]!
    const baseline = result.figures?.baseline
    if (baseline !== undefined && baseline.requests >= rollout.analysis.minRequests) return { step: result.step, figures: baseline }
  }
  return undefined
}
