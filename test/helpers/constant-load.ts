import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'

/** One request of a constant load and what came back. */
export interface LoadRecord {
  /** `r<N>`, also sent as `x-test-id` (the proxy makes its own x-request-id). */
  readonly id: string
  readonly status: number
  /** The body (first 500 characters). */
  readonly body: string
  /** Transport error seen by the client, if any (status is then 0). */
  readonly error?: string
  /** Wall-clock time (Date.now) the response ended. */
  readonly endedAt: number
}

export interface ConstantLoadOptions {
  readonly url: string
  /** Requests started per second. */
  readonly rps: number
  readonly durationMs: number
  readonly method?: 'GET' | 'POST'
  /** Request body (POST), given the request id. */
  readonly body?: (id: string) => string
  /** Requests in flight at most; a tick finding this many skips its request. Default 200. */
  readonly maxInFlight?: number
  /** Ends the load early (durationMs stays the upper bound). */
  readonly shouldStop?: () => boolean
}

/**
 * Starts one request every 1/rps s for durationMs (bounded in count and time, loopback only) and
 * records each outcome, so a test can name every failed request. Keep-alive connections, no
 * cookies: each request is a new client for group choice.
 */
export async function constantLoad(options: ConstantLoadOptions): Promise<LoadRecord[]> {
  const agent = new Agent({ keepAliveTimeout: 2_000, connections: 64, headersTimeout: 30_000, bodyTimeout: 30_000 })
  const records: LoadRecord[] = []
  const pending = new Set<Promise<void>>()
  const maxInFlight = options.maxInFlight ?? 200
  const total = Math.floor((options.durationMs / 1000) * options.rps)
  const start = performance.now()
  const one = async (id: string) => {
    try {
      const body = options.body?.(id)
      const response = await request(options.url, {
        dispatcher: agent,
        method: options.method ?? 'GET',
        headers: body === undefined ? { 'x-test-id': id } : { 'x-test-id': id, 'content-type': 'application/json' },
        body,
      })
      const text = await response.body.text()
      records.push({ id, status: response.statusCode, body: text.slice(0, 500), endedAt: Date.now() })
    } catch (error) {
      records.push({ id, status: 0, body: '', error: String(error), endedAt: Date.now() })
    }
  }
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / options.rps
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (options.shouldStop?.()) break
    if (pending.size >= maxInFlight) continue
    const running = one(`r${i}`)
    pending.add(running)
    void running.finally(() => pending.delete(running))
  }
  await Promise.all(pending)
  await agent.close()
  return records
}

/** The records that did not end in a 2xx, as short lines for an assertion message. */
export function failuresOf(records: readonly LoadRecord[]): string[] {
  return records
    .filter((record) => record.status < 200 || record.status >= 300)
    .map((record) => `${record.id}: ${record.status || record.error} ${record.body}`)
}
