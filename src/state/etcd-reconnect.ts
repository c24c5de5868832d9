/** Reconnect delays: quick first, then doubling up to the cap. */
const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5_000

/**
 * When the store next tries to reconnect: at most one try is pending at a time, and each delay
 * without an explicit one is the backoff, jittered (so replicas that lost etcd together do not all
 * come back in the same instant) and doubled for the next. The timer does not keep the process alive.
 */
export class Reconnector {
  #timer: NodeJS.Timeout | undefined
  #backoffMs = BACKOFF_FIRST_MS
  #stopped = false

  /** `attempt` runs when a scheduled try is due; it schedules the next itself if it fails. */
  constructor(private readonly attempt: () => void) {}

  /** Schedules a try after `delayMs`, or after the backoff when none is given; no-op if one is pending. */
  schedule(delayMs?: number): void {
    if (this.#timer !== undefined || this.#stopped) return
    const delay = delayMs ?? this.#backoffMs * (0.5 + Math.random() / 2)
    if (delayMs === undefined) this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.attempt()
    }, delay)
    this.#timer.unref()
  }

  /** Connected again: the next loss starts from the quick first delay. */
  reset(): void {
    this.#backoffMs = BACKOFF_FIRST_MS
  }

  /** For good: a pending try is cancelled and none is scheduled again. */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }
}
