/** The rollout endpoints' bodies and answers: a start request checked field by field, and the view. */

import type { FailedCheck, RolloutAnalysis, RolloutDrain, RolloutRecord, StepFigures, StepResult } from '../state/rollout-record.js'
import type { Weights } from '../state/store.js'
import { HttpError } from './http-errors.js'
import { baselineGroups } from './rollout-rules.js'
import type { RolloutRequest } from './rollout-steps.js'
import type { LiveWindow } from './rollouts.js'

export const DEFAULT_STEPS: readonly number[] = Object.freeze([5, 25, 50, 100])
export const DEFAULT_STEP_SECONDS = 30
export const DEFAULT_ANALYSIS: RolloutAnalysis = Object.freeze({ maxErrorRate: 0.01, minRequests: 100, compareToBaseline: false, maxWaitSeconds: 300 })
const MAX_STEPS = 20
const MAX_SECONDS = 86_400

const FIELDS = ['to', 'steps', 'stepSeconds', 'analysis', 'finish', 'drainSeconds', 'reason']
const ANALYSIS_FIELDS = ['maxErrorRate', 'maxP99Ms', 'minRequests', 'compareToBaseline', 'maxWaitSeconds']

function invalid(field: string, rule: string): HttpError {
  return new HttpError('invalid_body', `${field}: ${rule}`)
}

function number(value: unknown, field: string, check: (n: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) throw invalid(field, `must be ${rule}`)
  return value
}

function only(body: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw invalid(`${prefix}${key}`, `unknown field (fields: ${allowed.join(', ')})`)
}

/** A start request's body, checked; every refusal names its field. */
export function parseRolloutRequest(body: Record<string, unknown>, defaults: { drainSeconds: number }): RolloutRequest {
  only(body, FIELDS, '')
  if (typeof body.to !== 'string' || body.to === '') throw invalid('to', 'must be a group name')
  let steps = DEFAULT_STEPS
  if (body.steps !== undefined) {
    if (!Array.isArray(body.steps) || body.steps.length === 0 || body.steps.length > MAX_STEPS) throw invalid('steps', `must be a list of 1 to ${MAX_STEPS} percentages`)
    steps = body.steps.map((step: unknown, i) => number(step, `steps[${i}]`, (n) => n > 0 && n <= 100, 'a percentage above 0 and at most 100'))
    for (let i = 1; i < steps.length; i++) if (!(steps[i]! > steps[i - 1]!)) throw invalid(`steps[${i}]`, `must be above the step before it (${steps[i - 1]})`)
  }
  const stepSeconds = body.stepSeconds === undefined ? DEFAULT_STEP_SECONDS : number(body.stepSeconds, 'stepSeconds', (n) => n > 0 && n <= MAX_SECONDS, `a number of seconds above 0, at most ${MAX_SECONDS}`)
  const drainSeconds = body.drainSeconds === undefined ? defaults.drainSeconds : number(body.drainSeconds, 'drainSeconds', (n) => n >= 0 && n <= MAX_SECONDS, `a number of seconds from 0 to ${MAX_SECONDS}`)
  if (body.finish !== undefined && body.finish !== 'cutover' && body.finish !== 'weights') throw invalid('finish', 'must be "cutover" or "weights"')
  const finish = body.finish ?? 'cutover'
  return { to: body.to, steps, stepSeconds, analysis: parseAnalysis(body.analysis), finish, drainSeconds }
}

function parseAnalysis(value: unknown): RolloutAnalysis {
  if (value === undefined) return DEFAULT_ANALYSIS
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('analysis', 'must be an object')
  const body = value as Record<string, unknown>
  only(body, ANALYSIS_FIELDS, 'analysis.')
  const pick = (field: string, check: (n: number) => boolean, rule: string, fallback: number) =>
    body[field] === undefined ? fallback : number(body[field], `analysis.${field}`, check, rule)
  if (body.compareToBaseline !== undefined && typeof body.compareToBaseline !== 'boolean') throw invalid('analysis.compareToBaseline', 'must be true or false')
  const analysis: RolloutAnalysis = {
    maxErrorRate: pick('maxErrorRate', (n) => n >= 0 && n <= 1, 'a share from 0 to 1 (0.01 is 1 %)', DEFAULT_ANALYSIS.maxErrorRate),
    minRequests: pick('minRequests', (n) => Number.isInteger(n) && n >= 1 && n <= 1e9, 'an integer from 1 to 1e9', DEFAULT_ANALYSIS.minRequests),
    compareToBaseline: body.compareToBaseline ?? DEFAULT_ANALYSIS.compareToBaseline,
    maxWaitSeconds: pick('maxWaitSeconds', (n) => n >= 0 && n <= MAX_SECONDS, `a number of seconds from 0 to ${MAX_SECONDS}`, DEFAULT_ANALYSIS.maxWaitSeconds),
  }
  if (body.maxP99Ms === undefined) return analysis
  return { ...analysis, maxP99Ms: number(body.maxP99Ms, 'analysis.maxP99Ms', (n) => n > 0 && n <= MAX_SECONDS * 1000, 'a number of milliseconds above 0') }
}

/** A rollout as `GET /v1/services/{name}/rollout` shows it. Steps are numbered from 1. */
export interface RolloutView extends Pick<RolloutRecord, 'id' | 'to' | 'before' | 'steps' | 'stepSeconds' | 'analysis' | 'finish' | 'drainSeconds' | 'phase'> {
  /** The groups the canary takes traffic from. */
  readonly baseline: readonly string[]
  /** The current step, from 1. */
  readonly step: number
  readonly of: number
  /** The canary's weight at this step, in percent. */
  readonly weight: number
  /** The service's weights now. */
  readonly weights: Weights
  readonly startedAt: string
  readonly windowStartedAt: string
  readonly endedAt: string | null
  readonly reason: string | null
  /** Seconds the current window has run (null once it ended). */
  readonly elapsedSeconds: number | null
  /** The open window's figures (every replica's counts), or those that paused, failed or completed it. */
  readonly figures: StepFigures | null
  /** What the open window's figures say now (`collecting: …`, `passing so far …`), or null. */
  readonly verdict: string | null
  readonly results: readonly StepResult[]
  readonly failed: readonly FailedCheck[]
  readonly drain: RolloutDrain | null
  /** The replica that drives rollouts (`self` with a file store), or null while none does. */
  readonly driver: string | null
}

export function rolloutView(rollout: RolloutRecord, live: LiveWindow | undefined, weights: Weights, driver: string | undefined): RolloutView {
  const verdict = live === undefined || rollout.phase !== 'running' ? null : live.verdict.kind === 'wait' || live.verdict.kind === 'pause' ? live.verdict.reason : live.verdict.kind === 'fail' ? `failing: ${live.verdict.reason}` : 'passed; moving on'
  return {
    id: rollout.id,
    to: rollout.to,
    baseline: baselineGroups(rollout.before, rollout.to),
    before: rollout.before,
    steps: rollout.steps,
    stepSeconds: rollout.stepSeconds,
    analysis: rollout.analysis,
    finish: rollout.finish,
    drainSeconds: rollout.drainSeconds,
    phase: rollout.phase,
    step: rollout.step + 1,
    of: rollout.steps.length,
    weight: rollout.steps[rollout.step]!,
    weights,
    startedAt: rollout.startedAt,
    windowStartedAt: rollout.windowStartedAt,
    endedAt: rollout.endedAt ?? null,
    reason: rollout.reason ?? null,
    elapsedSeconds: live === undefined ? null : Math.round(live.elapsedSeconds * 10) / 10,
    figures: (rollout.phase === 'running' ? live?.figures : undefined) ?? rollout.figures ?? live?.figures ?? null,
    verdict,
    results: rollout.results,
    failed: rollout.failed ?? [],
    drain: rollout.drain ?? null,
    driver: driver ?? null,
  }
}
