/**
 * Retry rules of each service (DESIGN.md §5) that the data plane reads only when an attempt has
 * failed, so the success path pays nothing: which methods may be retried once sent, and a retry
 * budget that caps retries at a share of the service's requests.
 */
import type { RetryMethod, ServiceConfig } from '../config/types.js'
import type { GroupStats, StatsRegistry } from '../upstream/stats.js'

/** Seconds of history the budget looks at (plus the current partial second). */
const WINDOW_SECONDS = 10

/**
 * Retries allowed over the last ~10 s: `percent` of the requests seen in that window, and at
 * least `minRetries` so a quiet service can still retry. Requests are not counted on the hot
 * path: the budget reads the service's completed-request counters (GroupStats.durationCount) at
 * each one-second tick and at each retry.
 *
 * ```
 * buckets: [ r0 | r1 | … | r9 ]  requests and retries per past second (ring, `tick()` advances)
 * current: total now − total at the last tick, and the retries since it
 * ```
 */
export class RetryBudget {
  readonly #requests = new Float64Array(WINDOW_SECONDS)
  readonly #retries = new Float64Array(WINDOW_SECONDS)
  #index = 0
  #totalAtTick: number
  #retriesSinceTick = 0

  constructor(
    readonly percent: number,
    private readonly requestsSoFar: () => number,
    readonly minRetries = 5,
  ) {
    this.#totalAtTick = requestsSoFar()
  }

  /** Closes the current second (called once a second). */
  tick(): void {
    const total = this.requestsSoFar()
    this.#index = (this.#index + 1) % WINDOW_SECONDS
    this.#requests[this.#index] = total - this.#totalAtTick
    this.#retries[this.#index] = this.#retriesSinceTick
    this.#totalAtTick = total
    this.#retriesSinceTick = 0
  }

  /** Takes one retry from the budget; false when the window's retries reached the cap. */
  tryAcquire(): boolean {
    // The request asking to retry counts among the window's requests: it has not completed yet,
    // and without it a run of failures from the first request on would be refused at 100 %.
    let requests = this.requestsSoFar() - this.#totalAtTick + 1
    let retries = this.#retriesSinceTick
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      requests += this.#requests[i]!
      retries += this.#retries[i]!
    }
    if (retries + 1 > Math.max(this.minRetries, (requests * this.percent) / 100)) return false
    this.#retriesSinceTick++
    return true
  }
}

/** One service's retry rules. */
export class RetryPolicy {
  readonly #afterSend: ReadonlySet<string>

  constructor(
    methods: readonly RetryMethod[],
    readonly budget: RetryBudget,
  ) {
    this.#afterSend = new Set(methods)
  }

  /** Whether a request of `method` may be retried after it was sent (reset or timeout). */
  retriesAfterSend(method: string): boolean {
    return this.#afterSend.has(method)
  }
}

// Keyed by the GroupStats an Exchange already holds, so finding the policy needs no name lookup.
const policies = new WeakMap<GroupStats, RetryPolicy>()

/** The policy of the service `stats` belongs to, or undefined (then only the built-in rules apply). */
export function retryPolicyOf(stats: GroupStats): RetryPolicy | undefined {
  return policies.get(stats)
}

/**
 * Installs one service's policy for all its groups' stats and returns it. The caller ticks its
 * budget once a second (see RetryPolicies).
 */
export function installRetryPolicy(groups: readonly GroupStats[], methods: readonly RetryMethod[], percent: number): RetryPolicy {
  const requestsSoFar = () => {
    let total = 0
    for (let i = 0; i < groups.length; i++) total += groups[i]!.durationCount
    return total
  }
  const policy = new RetryPolicy(methods, new RetryBudget(percent, requestsSoFar))
  for (const stats of groups) policies.set(stats, policy)
  return policy
}

/** Every service's policy and the one-second tick of their budgets (unref'd). */
export class RetryPolicies {
  readonly #policies: RetryPolicy[] = []
  #timer: NodeJS.Timeout | undefined

  add(policy: RetryPolicy): void {
    this.#policies.push(policy)
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      for (const policy of this.#policies) policy.budget.tick()
    }, 1_000)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/** Installs every service's policy and starts the budgets' tick; `stop()` on shutdown. */
export function startRetryPolicies(services: readonly ServiceConfig[], stats: StatsRegistry): RetryPolicies {
  const policies = new RetryPolicies()
  for (const service of services) {
    const groups = [...stats.forService(service.name).values()]
    policies.add(installRetryPolicy(groups, service.retryMethods, service.retryBudgetPercent))
  }
  policies.start()
  return policies
}
