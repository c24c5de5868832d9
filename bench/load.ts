/**
 * Load generation. Throughput runs use autocannon (closed loop: each connection sends its next
 * request when the previous answer arrives). Latency is recorded per response to the microsecond
 * from autocannon's `response` event, since its own histogram keeps whole milliseconds.
 */
import autocannon from 'autocannon'
import { MicroHistogram } from './histogram.js'

/** The figures of one load run against one URL. */
export interface LoadResult {
  /** Completed responses (any status). */
  readonly requests: number
  readonly seconds: number
  /** Completed responses per second. */
  readonly rps: number
  readonly non2xx: number
  /** Connection errors and timeouts. */
  readonly errors: number
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly mean: number }
}

export interface ThroughputLoad {
  readonly url: string
  readonly connections: number
  readonly seconds: number
  /** Request headers; none by default (no cookie: every request takes the new-client path). */
  readonly headers?: Readonly<Record<string, string>>
}

/** Summarises a histogram and counters into a LoadResult. */
export function toLoadResult(histogram: MicroHistogram, requests: number, seconds: number, non2xx: number, errors: number): LoadResult {
  return {
    requests,
    seconds,
    rps: seconds > 0 ? requests / seconds : 0,
    non2xx,
    errors,
    latencyMs: {
      p50: histogram.percentileMs(50),
      p99: histogram.percentileMs(99),
      p999: histogram.percentileMs(99.9),
      mean: histogram.meanMs(),
    },
  }
}

/** Runs autocannon for `seconds` with `connections` keep-alive connections; stops by itself. */
export function runAutocannon(load: ThroughputLoad): Promise<LoadResult> {
  const histogram = new MicroHistogram()
  let completed = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: load.url,
        connections: load.connections,
        duration: load.seconds,
        pipelining: 1,
        timeout: 10,
        headers: { ...load.headers },
      },
      (error: unknown, result: autocannon.Result) => {
        if (error !== null && error !== undefined) {
          reject(error instanceof Error ? error : new Error(String(error)))
          return
        }
        // autocannon rounds its duration to 10 ms; the response count is exact.
        const seconds = result.duration > 0 ? result.duration : load.seconds
        resolve(toLoadResult(histogram, completed, seconds, result.non2xx, result.errors))
      },
    )
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      completed++
      histogram.recordMs(responseTime)
    })
  })
}
