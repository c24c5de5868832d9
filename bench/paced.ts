/**
 * Open-loop load at a fixed rate, for added-latency figures. autocannon's rate options send each
 * connection's per-second quota as one burst and then wait for the next second, which measures a
 * burst, not a steady rate; here requests leave evenly spaced (checked every millisecond), whether
 * or not earlier answers came back, and latency runs from the moment each request is dispatched.
 */
import { Pool, type Dispatcher } from 'undici'
import { MicroHistogram } from './histogram.js'
import { toLoadResult, type LoadResult } from './load.js'

export interface PacedLoad {
  readonly url: string
  /** Requests per second. */
  readonly rate: number
  readonly seconds: number
  /** Upper bound on open connections (requests queue beyond it). */
  readonly connections: number
  /** Ends the run early (`seconds` stays the upper bound). */
  readonly signal?: AbortSignal
}

interface Tally {
  completed: number
  non2xx: number
  errors: number
  outstanding: number
  /** Failed requests by what they saw: `status 502`, or the error's code. */
  readonly failures: Map<string, number>
}

/** A paced run's result, with its failures by kind. */
export interface PacedResult extends LoadResult {
  readonly failures: Readonly<Record<string, number>>
}

function countFailure(tally: Tally, what: string): void {
  tally.failures.set(what, (tally.failures.get(what) ?? 0) + 1)
}

/** One request's handler: records status and latency, drops the body. */
class Probe implements Dispatcher.DispatchHandler {
  #status = 0
  readonly #sentAt = process.hrtime.bigint()

  constructor(
    private readonly histogram: MicroHistogram,
    private readonly tally: Tally,
  ) {}

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    this.tally.outstanding--
    this.tally.completed++
    if (this.#status < 200 || this.#status >= 300) {
      this.tally.non2xx++
      countFailure(this.tally, `status ${this.#status}`)
    }
    this.histogram.recordMs(Number(process.hrtime.bigint() - this.#sentAt) / 1e6)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.tally.outstanding--
    this.tally.errors++
    countFailure(this.tally, (error as { code?: string }).code ?? error.message)
  }
}

/** Sends `rate` requests per second for `seconds`, then waits (at most 10 s) for the answers. */
export async function runPaced(load: PacedLoad): Promise<PacedResult> {
  const url = new URL(load.url)
  const pool = new Pool(url.origin, { connections: load.connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const histogram = new MicroHistogram()
  const tally: Tally = { completed: 0, non2xx: 0, errors: 0, outstanding: 0, failures: new Map() }
  const total = Math.round(load.rate * load.seconds)
  const options: Dispatcher.DispatchOptions = { path: url.pathname + url.search, method: 'GET', headers: { host: url.host } }
  const started = process.hrtime.bigint()
  let sent = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9
      const due = Math.min(total, Math.floor(elapsed * load.rate))
      while (sent < due) {
        sent++
        tally.outstanding++
        pool.dispatch(options, new Probe(histogram, tally))
      }
      if (sent >= total || load.signal?.aborted === true) {
        clearInterval(timer)
        resolve()
      }
    }, 1)
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const deadline = Date.now() + 10_000
  while (tally.outstanding > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  await pool.destroy()
  if (tally.outstanding > 0) countFailure(tally, 'no answer within 10 s')
  const result = toLoadResult(histogram, tally.completed, seconds, tally.non2xx, tally.errors + tally.outstanding)
  return { ...result, failures: Object.fromEntries(tally.failures) }
}
