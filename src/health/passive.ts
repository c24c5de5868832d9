/**
 * Passive outlier ejection rules (Envoy's outlier detection, simplified), as pure functions. The
 * data plane only bumps per-instance outcome counters; these rules read them and decide.
 */
import type { OutlierDetectionConfig } from '../config/types.js'
import type { FailureKind } from '../upstream/outcomes.js'
import type { InstanceFacts } from './status.js'
import type { HealthState } from './types.js'

/**
 * Whether a failed attempt ejects: local failures (connect, reset, timeout) in a row reached the
 * threshold. `other` failures (malformed responses, aborted bodies) are not held against the
 * instance's reachability.
 */
export function failuresEject(kind: FailureKind, consecutiveFailures: number, rule: OutlierDetectionConfig): boolean {
  return kind !== 'other' && rule.consecutiveFailures > 0 && consecutiveFailures >= rule.consecutiveFailures
}

/** Whether the 5xx responses in a row reached the threshold. */
export function fivexxEject(consecutive5xx: number, rule: OutlierDetectionConfig): boolean {
  return rule.consecutive5xx > 0 && consecutive5xx >= rule.consecutive5xx
}

/**
 * Ejections that still count for the backoff: after an instance stayed in for maxEjectionSeconds
 * since its last ejection ended, its past ejections are forgotten.
 */
export function countedEjections(facts: InstanceFacts, nowMs: number, rule: OutlierDetectionConfig): number {
  if (facts.lastEjectionEndMs !== undefined && nowMs - facts.lastEjectionEndMs > maxEjectionMs(rule)) return 0
  return facts.ejections
}

/** The next ejection's length: base × (ejections so far + 1), capped at maxEjectionSeconds. */
export function ejectionMs(previousEjections: number, rule: OutlierDetectionConfig): number {
  return Math.min(rule.baseEjectionSeconds * 1000 * (previousEjections + 1), maxEjectionMs(rule))
}

function maxEjectionMs(rule: OutlierDetectionConfig): number {
  return Math.max(rule.baseEjectionSeconds, rule.maxEjectionSeconds) * 1000
}

/**
 * The panic guard: one more ejection is allowed while at most maxEjectionPercent of the group's
 * instances would be ejected. Rounding down would never let a small group (one instance) lose its
 * only failing instance; that one ejection is allowed when other groups of the service (weight
 * above 0) still have live instances to take its share. An instance that refuses connections is
 * always let go while another instance, in its group or another, can serve: keeping it in only
 * turns its share into errors. Otherwise a service's last live instances are never ejected: their
 * failures then show as errors, which beats answering 503 for all.
 */
export function ejectionAllowed(census: GroupCensus, rule: OutlierDetectionConfig, refusesConnections = false): boolean {
  if (rule.maxEjectionPercent <= 0) return false
  if (refusesConnections && (census.healthy > 1 || census.otherGroupsLive)) return true
  if (census.ejected + 1 <= Math.floor((census.size * rule.maxEjectionPercent) / 100)) return true
  return census.ejected === 0 && census.otherGroupsLive
}

/** What the panic guard needs to know about one group of a service. */
export interface GroupCensus {
  /** Instances of the group, draining ones left out. */
  readonly size: number
  readonly ejected: number
  /** Healthy instances of the group (the one being judged among them). */
  readonly healthy: number
  /** Another group with weight above 0 has a healthy instance. */
  readonly otherGroupsLive: boolean
}

/** Counts `group` and its siblings among the instances of one service. */
export function groupCensus(
  instances: Iterable<{ readonly group: string; readonly health: HealthState }>,
  group: string,
  weights: Readonly<Record<string, number>>,
): GroupCensus {
  let size = 0
  let ejected = 0
  let healthy = 0
  let otherGroupsLive = false
  for (const instance of instances) {
    if (instance.health === 'draining') continue
    if (instance.group === group) {
      size++
      if (instance.health === 'ejected') ejected++
      else if (instance.health === 'healthy') healthy++
    } else if (instance.health === 'healthy' && (weights[instance.group] ?? 0) > 0) {
      otherGroupsLive = true
    }
  }
  return { size, ejected, healthy, otherGroupsLive }
}
