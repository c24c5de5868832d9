/** Backoff before replacing a worker that died: 100 ms, doubled per death in the last minute, at most 10 s. */
export class RespawnBackoff {
  readonly #deaths: number[] = []

  constructor(
    private readonly baseMs = 100,
    private readonly maxMs = 10_000,
    private readonly windowMs = 60_000,
  ) {}

  /** Records a death at `nowMs` and returns how long to wait before the replacement. */
  next(nowMs: number): number {
    this.#deaths.push(nowMs)
    while (this.#deaths[0]! < nowMs - this.windowMs) this.#deaths.shift()
    return Math.min(this.maxMs, this.baseMs * 2 ** (this.#deaths.length - 1))
  }
}
