/**
 * A rollout's transitions as changes to the desired state: each returns the whole change (new
 * weights when they move, the new rollout record) for ChangeController to commit, so a step and
 * its weights land together or not at all. Pure: the time and the window's name are passed in.
 */
import type { FailedCheck, RolloutAnalysis, RolloutRecord, RolloutDrain, StepFigures, StepResult } from '../state/rollout-record.js'
import { identicalWeights } from '../routing/weights.js'
import type { Change, Weights } from '../state/store.js'
import { cutoverWeights, drainedGroups } from './change-rules.js'
import { stepIsCutover, stepWeights } from './rollout-rules.js'

/** What starting a rollout asks for (validated). */
export interface RolloutRequest {
  readonly to: string
  readonly steps: readonly number[]
  readonly stepSeconds: number
  readonly analysis: RolloutAnalysis
  readonly finish: 'cutover' | 'weights'
  readonly drainSeconds: number
}

/** Where a transition happens: the service, its groups and weights now, the time, a fresh window name. */
export interface StepContext {
  readonly service: string
  readonly groups: readonly string[]
  /** The service's weights in the state the change is planned on. */
  readonly weights: Weights
  readonly time: string
  /** Names the window a transition that opens one opens. */
  readonly window: string
}

/** A change without its id (ChangeController gives it one). */
export type PlannedChange = Omit<Change, 'id'>

/** A weights change, or only the record when the weights already are `after`. */
function toWeights(ctx: StepContext, after: Weights, rollout: RolloutRecord, reason: string): PlannedChange {
  const kind = identicalWeights(ctx.weights, after) ? 'rollout' : 'weights'
  return { service: ctx.service, kind, after: kind === 'rollout' ? ctx.weights : after, time: ctx.time, reason, rollout, madeBy: rollout.id }
}

function stepName(rollout: RolloutRecord, index: number): string {
  return `step ${index + 1} of ${rollout.steps.length}, ${rollout.to} at ${rollout.steps[index]} %`
}

/** A new rollout at its first step. */
export function startRollout(request: RolloutRequest, id: string, ctx: StepContext): PlannedChange {
  const rollout: RolloutRecord = {
    id,
    ...request,
    before: ctx.weights,
    phase: 'running',
    step: 0,
    window: ctx.window,
    windowStartedAt: ctx.time,
    startedAt: ctx.time,
    results: [],
  }
  return enterStep(rollout, 0, ctx)
}

/**
 * Step `index` with a fresh window: its weights, or, for a 100 % step with `finish: cutover`,
 * the cut-over itself (the other groups drain).
 */
export function enterStep(rollout: RolloutRecord, index: number, ctx: StepContext): PlannedChange {
  const { reason: _reason, figures: _figures, ...rest } = rollout
  const next: RolloutRecord = { ...rest, phase: 'running', step: index, window: ctx.window, windowStartedAt: ctx.time }
  const reason = `rollout ${rollout.id}: ${stepName(rollout, index)}`
  if (!stepIsCutover(rollout, index)) return toWeights(ctx, stepWeights(ctx.groups, rollout.before, rollout.to, rollout.steps[index]!), next, reason)
  return cutoverChange(ctx, { ...next, cutoverAt: ctx.time }, reason)
}

function cutoverChange(ctx: StepContext, rollout: RolloutRecord, reason: string): PlannedChange {
  const after = cutoverWeights(ctx.groups, rollout.to)
  const cutover = { to: rollout.to, from: drainedGroups(ctx.weights, after), startedAt: ctx.time, drainSeconds: rollout.drainSeconds }
  return { service: ctx.service, kind: 'cutover', after, time: ctx.time, reason, to: rollout.to, cutover, rollout, madeBy: rollout.id }
}

/**
 * The current step ended (`result`): the next step, or after the last one the hand-over: a
 * cut-over whose drain the rollout then waits for (`finishing`), or completion at the last weights.
 */
export function advance(rollout: RolloutRecord, result: StepResult, ctx: StepContext): PlannedChange {
  const ended: RolloutRecord = { ...rollout, results: [...rollout.results, result] }
  if (rollout.step + 1 < rollout.steps.length) return enterStep(ended, rollout.step + 1, ctx)
  if (rollout.finish === 'weights') return complete(ended, ctx, result.figures ?? undefined)
  const finishing: RolloutRecord = { ...ended, phase: 'finishing' }
  // The last step was the cut-over: only its drain is left.
  if (stepIsCutover(rollout, rollout.step)) return toWeights(ctx, ctx.weights, finishing, `rollout ${rollout.id}: last step passed`)
  return cutoverChange(ctx, { ...finishing, cutoverAt: ctx.time }, `rollout ${rollout.id}: last step passed, cut-over to ${rollout.to}`)
}

/** The end of a rollout that reached its last weights (and, with a cut-over, its drain ended). */
export function complete(rollout: RolloutRecord, ctx: StepContext, figures?: StepFigures, drain?: RolloutDrain): PlannedChange {
  const last = figures ?? rollout.results[rollout.results.length - 1]?.figures ?? undefined
  const done: RolloutRecord = {
    ...rollout,
    phase: 'completed',
    endedAt: ctx.time,
    ...(last === undefined ? {} : { figures: last }),
    ...(drain === undefined ? {} : { drain }),
  }
  return toWeights(ctx, ctx.weights, done, `rollout ${rollout.id} completed`)
}

/** Stops at the current weights with a reason; resume opens a new window. */
export function pause(rollout: RolloutRecord, reason: string, ctx: StepContext, figures?: StepFigures): PlannedChange {
  const paused: RolloutRecord = { ...rollout, phase: 'paused', reason, ...(figures === undefined ? {} : { figures }) }
  return toWeights(ctx, ctx.weights, paused, `rollout ${rollout.id} paused: ${reason}`)
}

/** Back to the weights before the rollout, at once, with the checks and figures that failed it. */
export function fail(rollout: RolloutRecord, reason: string, failed: readonly FailedCheck[], figures: StepFigures, ctx: StepContext): PlannedChange {
  const ended: RolloutRecord = { ...rollout, phase: 'failed', endedAt: ctx.time, reason, failed, figures }
  return toWeights(ctx, rollout.before, ended, `rollout ${rollout.id} failed at ${stepName(rollout, rollout.step)}: ${reason}`)
}

/** Back to the weights before the rollout, at once, on the operator's word. */
export function abort(rollout: RolloutRecord, reason: string, ctx: StepContext): PlannedChange {
  const ended: RolloutRecord = { ...rollout, phase: 'aborted', endedAt: ctx.time, reason }
  return toWeights(ctx, rollout.before, ended, `rollout ${rollout.id} aborted: ${reason}`)
}

/**
 * The record after an operator's own change to the service (weights, cut-over, rollback) while
 * the rollout owns its weights: paused, so the rollout never overrides the operator.
 */
export function pausedByOperator(rollout: RolloutRecord | undefined, what: string): RolloutRecord | undefined {
  if (rollout === undefined || (rollout.phase !== 'running' && rollout.phase !== 'finishing')) return undefined
  return { ...rollout, phase: 'paused', reason: `${what} by the operator; resume to go on from step ${rollout.step + 1}` }
}
