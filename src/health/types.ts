/**
 * The health module's contract: instance states, transitions and what status and metrics read.
 *
 * ```
 *            readiness passes,              check fails maxConsecutiveFailures times
 * starting ──────────────────> (ready) ──> healthy ────────────────────────────> unhealthy
 *    │      first health check passes         │  ^        <── a check passes ────    │
 *    │                                        │  │ ejection over (and, with active   │
 *    │                                        v  │ checks, a check passed)           │
 *    │                                      ejected  (consecutive failures or 5xx)   │
 *    └─────────────── removed from discovery: draining <─────────────────────────────┘
 * ```
 * `ready`: readiness passed, the first health check has not (only when both kinds are configured).
 * Only `healthy` instances take new requests.
 */

/** Every state an instance can be in. */
export type InstanceState = 'starting' | 'ready' | 'healthy' | 'unhealthy' | 'ejected' | 'draining'

/** In the order status and metrics list them. */
export const INSTANCE_STATES: readonly InstanceState[] = Object.freeze([
  'starting',
  'ready',
  'healthy',
  'unhealthy',
  'ejected',
  'draining',
])

/** One change of state, as a value: it becomes a `health_changed` event and a log line. */
export interface Transition {
  readonly from: InstanceState
  readonly to: InstanceState
  readonly reason: string
}

/** What status (`GET /v1/services/...`) shows about one instance. */
export interface InstanceStatus {
  readonly service: string
  readonly group: string
  /** `host:port`. */
  readonly instance: string
  readonly state: InstanceState
  /** Takes new requests (state `healthy`). */
  readonly live: boolean
  /** When the instance entered its state (ISO 8601). */
  readonly since: string
  /** Why it is in its state, e.g. "health check passed (200)". */
  readonly reason: string
  /** Passive ejections so far (the backoff multiplier). */
  readonly ejections: number
}

/** Instances per state, every state present (0 when none): `zdd_instances{state}`. */
export type StateCounts = Record<InstanceState, number>

/** A StateCounts with every state at 0. */
export function emptyStateCounts(): StateCounts {
  return { starting: 0, ready: 0, healthy: 0, unhealthy: 0, ejected: 0, draining: 0 }
}
