/**
 * The access log: one JSON line per request (or per sampled request), written by pino's
 * asynchronous destination, so the request never waits for the disk: lines are buffered and
 * flushed in the background, and at stop. Off unless `accessLog` is configured; then the only cost
 * on the request path is building and queueing the line of a sampled request.
 */
import pino from 'pino'
import type { AccessLogConfig } from '../config/types.js'

/** How the request was placed: a new sticky client, a returning one, an override, or no key. */
export type StickyKind = 'new' | 'returning' | 'override' | 'none'

/** One line of the access log. */
export interface AccessEntry {
  readonly time: string
  readonly requestId: string
  readonly client: string
  readonly method: string
  readonly path: string
  /** The answer's status; 499 (as nginx) when the client left before any answer. */
  readonly status: number
  /** The request body's length; null for a chunked body too large to be buffered. */
  readonly bytesIn: number | null
  /** Body bytes sent to the client. */
  readonly bytesOut: number
  readonly durationMs: number
  /** False when the answer was cut short (the client left, or the instance failed mid-answer). */
  readonly complete: boolean
  /** Empty when the request named no service (an unknown Host). */
  readonly service: string
  /** The group that answered (after redispatch), empty when none did. */
  readonly group: string
  readonly instance: string
  readonly retries: number
  readonly redispatched: boolean
  readonly sticky: StickyKind
}

/** Asynchronous writes are gathered up to this many bytes before they go to the file. */
const BUFFER_BYTES = 4096

export class AccessLog {
  readonly #stream: ReturnType<typeof pino.destination>
  readonly #sample: number

  /** `config.path` is a file (appended to) or `-` for stdout. */
  constructor(config: AccessLogConfig) {
    this.#stream = pino.destination({ dest: config.path === '-' ? 1 : config.path, sync: false, minLength: BUFFER_BYTES, mkdir: true })
    this.#sample = config.sample
  }

  /** Whether this request is logged (every one at `sample: 1`). */
  sampled(): boolean {
    return this.#sample >= 1 || Math.random() < this.#sample
  }

  write(entry: AccessEntry): void {
    this.#stream.write(`${JSON.stringify(entry)}\n`)
  }

  /** Writes what is buffered and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#stream.once('close', () => resolve())
      this.#stream.once('error', () => resolve())
      try {
        this.#stream.flushSync()
      } catch {
        // Not open yet or already closed: end() below still settles.
      }
      this.#stream.end()
    })
  }
}
