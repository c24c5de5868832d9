/**
 * A progressive rollout as the desired state keeps it: what was asked for, where it stands, and
 * the figures each step was judged by. It lives in the state document next to the service's
 * weights, so a step and its weights are written together (one compare-and-set), every replica
 * sees it, and a restarted or newly elected driver resumes from it.
 */
import type { Weights } from './store.js'

/** What judges a step's window. */
export interface RolloutAnalysis {
  /** Highest error rate (0..1) the canary may show; with compareToBaseline, above the baseline's. */
  readonly maxErrorRate: number
  /** Highest p99 latency in ms the canary may show; absent: latency is not judged. */
  readonly maxP99Ms?: number
  /** Canary requests a window needs before it is judged. */
  readonly minRequests: number
  /** Judge the canary's error rate against the baseline's rather than alone. */
  readonly compareToBaseline: boolean
  /** How long a step may wait past stepSeconds for minRequests before the rollout pauses. */
  readonly maxWaitSeconds: number
}

/**
 * `running`: a step's window is open; `paused`: by the operator, a manual change or too few
 * requests; `finishing`: the last step passed and the cut-over's drain runs; then one of the ends.
 */
export type RolloutPhase = 'running' | 'paused' | 'finishing' | 'completed' | 'failed' | 'aborted'

/** One side's figures over a window; null where there were no requests. */
export interface GroupFigures {
  readonly requests: number
  /** 5xx answers and failed attempts over requests (0..1). */
  readonly errorRate: number | null
  /** Interpolated from the duration histogram, like Prometheus' histogram_quantile. */
  readonly p99Ms: number | null
}

/** A window's figures: the canary group against the other weighted groups together. */
export interface StepFigures {
  /** Seconds the window has covered. */
  readonly seconds: number
  /** Replicas whose counts were summed. */
  readonly replicas: number
  readonly canary: GroupFigures
  readonly baseline: GroupFigures
  /** Set when the baseline had too few requests here and an earlier step's baseline figures stood in (1-based). */
  readonly baselineFromStep?: number
}

/** A check a window failed, with the figures that failed it. */
export interface FailedCheck {
  readonly check: 'errorRate' | 'p99'
  /** The canary's error rate (0..1) or p99 (ms). */
  readonly canary: number
  /** The baseline's error rate, when the check compared against it. */
  readonly baseline?: number
  readonly limit: number
}

/** How one step ended. */
export interface StepResult {
  /** 1-based. */
  readonly step: number
  /** The canary's weight during the step. */
  readonly weight: number
  /** `passed` its analysis, or `promoted` by the operator before it was judged. */
  readonly result: 'passed' | 'promoted'
  readonly at: string
  readonly figures: StepFigures | null
}

/** A drain's end as the rollout reports it. */
export interface RolloutDrain {
  readonly outcome: string
  readonly inflightAtStart: number
  readonly completed: number
  readonly cut: number
  readonly remaining: number
}

export interface RolloutRecord {
  readonly id: string
  /** The change that last wrote the record, so a writer whose answer was lost finds its own. */
  readonly changeId?: string
  /** The canary group. */
  readonly to: string
  /** The weights before the rollout: what a failure or an abort restores. */
  readonly before: Weights
  /** The canary's weight at each step, in percent, increasing. */
  readonly steps: readonly number[]
  readonly stepSeconds: number
  readonly analysis: RolloutAnalysis
  /** After the last step: a cut-over to the canary (drained), or the last step's weights stay. */
  readonly finish: 'cutover' | 'weights'
  readonly drainSeconds: number
  readonly phase: RolloutPhase
  /** The current step, 0-based. */
  readonly step: number
  /** Names the current analysis window; each replica counts from when it first saw it. */
  readonly window: string
  /** When the current window opened (its step applied, or the rollout resumed). */
  readonly windowStartedAt: string
  readonly startedAt: string
  readonly endedAt?: string
  /** Why it paused, failed or was aborted. */
  readonly reason?: string
  /** The steps that ended, in order. */
  readonly results: readonly StepResult[]
  /** The checks that failed it. */
  readonly failed?: readonly FailedCheck[]
  /** The figures of the window that paused, failed or completed it. */
  readonly figures?: StepFigures
  /** `finish: cutover`: the cut-over's time, which its drain carries as startedAt. */
  readonly cutoverAt?: string
  /** `finish: cutover`: how the drain ended. */
  readonly drain?: RolloutDrain
}

/** A rollout that still owns its service's weights. */
export function rolloutActive(record: RolloutRecord | undefined): boolean {
  return record !== undefined && (record.phase === 'running' || record.phase === 'paused' || record.phase === 'finishing')
}
