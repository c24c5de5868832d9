/**
 * Pool protection for one instance in one data plane (Envoy's max_connections and
 * max_pending_requests, HAProxy's maxconn and timeout queue): at most `limit` requests are sent at
 * once, at most `queueLimit` wait for one of those connections, and none waits longer than
 * `queueMs`. A request that cannot be admitted or waited too long goes elsewhere: the caller
 * decides where.
 *
 * ```
 * acquire ──> sending < limit ? 'now' ──> … release() ──> the oldest waiter is admitted()
 *        └──> queue < queueLimit ? 'queued' (FIFO) ── queueMs passed ──> expired()
 *        └──> 'full'
 * ```
 */

/** A request waiting for a connection to an instance. */
export interface SlotWaiter {
  /** A connection is free and held for this request: send now. */
  admitted(): void
  /** It waited `queueMs`: it no longer holds a place in the queue. */
  expired(): void
}

interface Waiting {
  readonly waiter: SlotWaiter
  readonly deadlineMs: number
}

export class ConnectionSlots {
  /** Requests sent (or being sent) to the instance. */
  #sending = 0
  #queue: Waiting[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(
    public limit: number,
    public queueLimit: number,
    public queueMs: number,
  ) {}

  /**
   * New limits from a reload. Requests sent or waiting stay; with a higher limit the oldest waiters
   * are sent at once; with a lower one, fewer are sent until enough are over.
   */
  resize(limit: number, queueLimit: number, queueMs: number): void {
    this.limit = limit
    this.queueLimit = queueLimit
    this.queueMs = queueMs
    while (this.#sending < this.limit && this.#queue.length > 0) {
      this.#sending++
      const next = this.#queue.shift()!
      if (this.#queue.length === 0) this.#disarm()
      next.waiter.admitted()
    }
  }

  /** Whether a request would be sent at once. */
  get free(): boolean {
    return this.#sending < this.limit
  }

  /** Requests waiting for a connection. */
  get waiting(): number {
    return this.#queue.length
  }

  /** Takes a connection ('now'), a place in the queue ('queued'), or neither ('full'). */
  acquire(waiter: SlotWaiter): 'now' | 'queued' | 'full' {
    if (this.#sending < this.limit) {
      this.#sending++
      return 'now'
    }
    if (this.#queue.length >= this.queueLimit) return 'full'
    this.#queue.push({ waiter, deadlineMs: performance.now() + this.queueMs })
    if (this.#timer === undefined) this.#arm()
    return 'queued'
  }

  /** A sent request is over: its connection goes to the oldest waiter, if any. */
  release(): void {
    // Above a limit a reload lowered: the connection is given up, not passed on.
    const next = this.#sending > this.limit ? undefined : this.#queue.shift()
    if (next === undefined) {
      this.#sending--
      return
    }
    // The connection passes straight to the waiter: #sending stays.
    if (this.#queue.length === 0) this.#disarm()
    next.waiter.admitted()
  }

  /** A waiter that no longer waits (its client left). */
  cancel(waiter: SlotWaiter): void {
    const index = this.#queue.findIndex((waiting) => waiting.waiter === waiter)
    if (index >= 0) this.#queue.splice(index, 1)
    if (this.#queue.length === 0) this.#disarm()
  }

  /** One timer for the whole queue, due at its oldest deadline. */
  #arm(): void {
    const head = this.#queue[0]
    if (head === undefined) return
    this.#timer = setTimeout(this.#expire, Math.max(0, head.deadlineMs - performance.now()))
    this.#timer.unref()
  }

  #disarm(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  readonly #expire = (): void => {
    this.#timer = undefined
    const now = performance.now()
    const expired: SlotWaiter[] = []
    while (this.#queue.length > 0 && this.#queue[0]!.deadlineMs <= now) expired.push(this.#queue.shift()!.waiter)
    this.#arm()
    for (const waiter of expired) waiter.expired()
  }
}
