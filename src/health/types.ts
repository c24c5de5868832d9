/**
 * The health module's contract: instance states and how they follow each other.
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
export type HealthState = 'starting' | 'ready' | 'healthy' | 'unhealthy' | 'ejected' | 'draining'
