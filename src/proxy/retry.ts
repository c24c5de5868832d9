/**
 * Retry rules of each service that the data plane reads only when an attempt has failed, so the
 * success path pays nothing: which methods may be retried once sent, and a retry budget that caps
 * retries at a share of the service's requests.
 */
import type { RetryMethod, ServiceConfig } from '../config/types.js'
import type { StatsRegistry } from '../upstream/stats.js'

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

/**
 * Every service's retry policy in one data plane, and the one-second tick of their budgets (an
 * unref'd timer, stopped by `stop()`). A budget counts the service's completed requests from its
 * groups' stats.
 */
export class RetryPolicies {
  #byService = new Map<string, RetryPolicy>()
  readonly #timer: NodeJS.Timeout

  constructor(services: readonly ServiceConfig[], stats: StatsRegistry) {
    this.reconfigure(services, stats)
    this.#timer = setInterval(() => {
      for (const policy of this.#byService.values()) policy.budget.tick()
    }, 1_000)
    this.#timer.unref()
  }

  /** New policies for a new config (budgets start over); requests running keep theirs. */
  reconfigure(services: readonly ServiceConfig[], stats: StatsRegistry): void {
    const byService = new Map<string, RetryPolicy>()
    for (const service of services) {
      const groups = [...stats.forService(service.name).values()]
      const requestsSoFar = () => {
        let total = 0
        for (let i = 0; i < groups.length; i++) total += groups[i]!.durationCount
        return total
      }
      byService.set(service.name, new RetryPolicy(service.retryMethods, new RetryBudget(service.retryBudgetPercent, requestsSoFar)))
    }
    this.#byService = byService
  }

  /** The policy of a configured service. */
  of(service: string): RetryPolicy {
    return this.#byService.get(service)!
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
