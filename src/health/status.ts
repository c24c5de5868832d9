/**
 * The instance state machine as pure functions: facts go in, new facts come out, and the state is
 * derived from the facts. The caller compares states before and after to see a transition.
 * Times are milliseconds on any monotonic clock the caller chooses.
 */
import type { HealthState } from './types.js'

/** What one active health check has seen of an instance. */
export interface CheckFacts {
  /** A check passed at least once; this also ends the grace period (Marathon). */
  readonly passedOnce: boolean
  /** Failures counted in a row since the last pass. */
  readonly failures: number
  /** Failures reached maxConsecutiveFailures; cleared by the next pass. */
  readonly failing: boolean
}

/** Everything health knows about one instance. Replaced, never mutated. */
export interface InstanceFacts {
  /** When the instance was first seen (its start, as far as the proxy can tell). */
  readonly firstSeenMs: number
  /** `none`: no readiness check configured. Once `passed`, it stays passed. */
  readonly readiness: 'none' | 'pending' | 'passed'
  /** One entry per configured health check, in config order. */
  readonly checks: readonly CheckFacts[]
  /** End of the current passive ejection, or undefined. */
  readonly ejectedUntilMs: number | undefined
  /** The ejection time is over and active checks exist: the instance returns at the next pass. */
  readonly awaitingPass: boolean
  /** Ejections so far, for the backoff. */
  readonly ejections: number
  /** When the last ejection ended (for forgetting old ejections), or undefined. */
  readonly lastEjectionEndMs: number | undefined
  /** Removed from discovery: finishing in-flight requests only. */
  readonly draining: boolean
}

/** The parts of Marathon's health check block the state machine needs. */
export interface CheckRule {
  readonly gracePeriodSeconds: number
  readonly maxConsecutiveFailures: number
}

/** The outcome of one health check: `ignored` leaves everything as it was (1xx with ignoreHttp1xx). */
export type CheckOutcome = 'pass' | 'fail' | 'ignored'

const FRESH_CHECK: CheckFacts = Object.freeze({ passedOnce: false, failures: 0, failing: false })

/** A newly seen instance. */
export function initialFacts(nowMs: number, hasReadiness: boolean, healthChecks: number): InstanceFacts {
  return {
    firstSeenMs: nowMs,
    readiness: hasReadiness ? 'pending' : 'none',
    checks: Array.from({ length: healthChecks }, () => FRESH_CHECK),
    ejectedUntilMs: undefined,
    awaitingPass: false,
    ejections: 0,
    lastEjectionEndMs: undefined,
    draining: false,
  }
}

/** The state the facts add up to; precedence: draining, ejected, starting, unhealthy, ready, healthy. */
export function deriveState(facts: InstanceFacts): HealthState {
  if (facts.draining) return 'draining'
  if (facts.ejectedUntilMs !== undefined || facts.awaitingPass) return 'ejected'
  if (facts.readiness === 'pending') return 'starting'
  let allPassedOnce = true
  for (const check of facts.checks) {
    if (check.failing) return 'unhealthy'
    if (!check.passedOnce) allPassedOnce = false
  }
  if (!allPassedOnce) return facts.readiness === 'passed' ? 'ready' : 'starting'
  return 'healthy'
}

/** Only healthy instances take new requests. */
export function isLive(state: HealthState): boolean {
  return state === 'healthy'
}

/**
 * Applies one health check outcome (Marathon's rules): a pass clears the failures and ends an
 * ejection whose time is over; with `unejectOnPass` (Envoy's
 * `successful_active_health_check_uneject_host`) it ends a running ejection too. A failure before
 * the first pass and inside the grace period does not count; `maxConsecutiveFailures` counted
 * failures make the instance unhealthy (0 is read as 1: Marathon's 0 means "never kill", but a
 * failing instance must not get traffic).
 */
export function applyCheckOutcome(
  facts: InstanceFacts,
  index: number,
  outcome: CheckOutcome,
  rule: CheckRule,
  nowMs: number,
  unejectOnPass = false,
): InstanceFacts {
  const check = facts.checks[index]
  if (check === undefined || outcome === 'ignored') return facts
  let next: CheckFacts
  let awaitingPass = facts.awaitingPass
  let ejection: Pick<InstanceFacts, 'ejectedUntilMs' | 'lastEjectionEndMs'> = facts
  if (outcome === 'pass') {
    next = { passedOnce: true, failures: 0, failing: false }
    if (facts.ejectedUntilMs === undefined) awaitingPass = false
    else if (unejectOnPass) {
      awaitingPass = false
      ejection = { ejectedUntilMs: undefined, lastEjectionEndMs: nowMs }
    }
  } else {
    if (!check.passedOnce && nowMs < facts.firstSeenMs + rule.gracePeriodSeconds * 1000) return facts
    const failures = check.failures + 1
    next = { passedOnce: check.passedOnce, failures, failing: failures >= Math.max(1, rule.maxConsecutiveFailures) }
  }
  const checks = facts.checks.slice()
  checks[index] = next
  return { ...facts, checks, awaitingPass, ejectedUntilMs: ejection.ejectedUntilMs, lastEjectionEndMs: ejection.lastEjectionEndMs }
}

/** Readiness passed; it stays passed (Marathon checks readiness only while an instance starts). */
export function markReady(facts: InstanceFacts): InstanceFacts {
  return facts.readiness === 'pending' ? { ...facts, readiness: 'passed' } : facts
}

/** Starts a passive ejection of `durationMs`. */
export function eject(facts: InstanceFacts, nowMs: number, durationMs: number): InstanceFacts {
  return { ...facts, ejectedUntilMs: nowMs + durationMs, awaitingPass: false, ejections: facts.ejections + 1 }
}

/**
 * Ends an ejection whose time is over. With active health checks the instance stays out until a
 * check passes (`awaitingPass`); without, it returns now.
 */
export function endEjection(facts: InstanceFacts, nowMs: number, hasHealthChecks: boolean): InstanceFacts {
  if (facts.ejectedUntilMs === undefined || nowMs < facts.ejectedUntilMs) return facts
  return { ...facts, ejectedUntilMs: undefined, awaitingPass: hasHealthChecks, lastEjectionEndMs: nowMs }
}

/** Removed from discovery. */
export function markDraining(facts: InstanceFacts): InstanceFacts {
  return facts.draining ? facts : { ...facts, draining: true }
}
