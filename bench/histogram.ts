/**
 * Latency histogram with 1 µs buckets up to 100 ms (slower samples are kept exactly). autocannon's
 * own histogram stores whole milliseconds, too coarse for a proxy's added latency.
 */
const BUCKETS = 100_000

export class MicroHistogram {
  readonly #counts = new Uint32Array(BUCKETS)
  readonly #slow: number[] = []
  count = 0

  /** Records one latency given in milliseconds (fractions kept to the microsecond). */
  recordMs(ms: number): void {
    const us = Math.round(ms * 1000)
    if (us < BUCKETS) this.#counts[us < 0 ? 0 : us]!++
    else this.#slow.push(us)
    this.count++
  }

  /** The latency at percentile `p` (0..100) in milliseconds; NaN when empty. */
  percentileMs(p: number): number {
    if (this.count === 0) return Number.NaN
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let us = 0; us < BUCKETS; us++) {
      seen += this.#counts[us]!
      if (seen >= rank) return us / 1000
    }
    const slow = [...this.#slow].sort((a, b) => a - b)
    return slow[Math.min(rank - seen, slow.length) - 1]! / 1000
  }

  /** Mean in milliseconds. */
  meanMs(): number {
    if (this.count === 0) return Number.NaN
    let total = 0
    for (let us = 0; us < BUCKETS; us++) if (this.#counts[us] !== 0) total += us * this.#counts[us]!
    for (const us of this.#slow) total += us
    return total / this.count / 1000
  }
}
