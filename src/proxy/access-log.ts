/**
 * The access log: one JSON line per request (or per sampled request), written by pino's
 * asynchronous destination, so the request never waits for the disk: lines are buffered and
 * flushed in the background, and at stop. Off unless `accessLog` is configured; then the only cost
 * on the request path is building and queueing the line of a sampled request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import type { AccessLogConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import type { RequestBody } from './body.js'

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
  /** The instance of the last attempt: the one that answered, or the one whose failure was answered. */
  readonly instance: string
  readonly retries: number
  readonly redispatched: boolean
  readonly sticky: StickyKind
}

/**
 * One JSON line, the fields in AccessEntry's order. Only the strings a client controls (path,
 * request id, client address) go through JSON.stringify; the others are numbers, booleans or names
 * the config and the proxy restrict to characters JSON needs no escape for. A third of the cost of
 * stringifying the whole object.
 */
export function formatEntry(entry: AccessEntry): string {
  return (
    `{"time":"${entry.time}","requestId":${JSON.stringify(entry.requestId)},"client":${JSON.stringify(entry.client)},` +
    `"method":"${entry.method}","path":${JSON.stringify(entry.path)},"status":${entry.status},"bytesIn":${entry.bytesIn},` +
    `"bytesOut":${entry.bytesOut},"durationMs":${entry.durationMs},"complete":${entry.complete},"service":"${entry.service}",` +
    `"group":"${entry.group}","instance":"${entry.instance}","retries":${entry.retries},"redispatched":${entry.redispatched},` +
    `"sticky":"${entry.sticky}"}\n`
  )
}

let lastMs = 0
let lastIso = ''

/** The time as ISO 8601, made once per millisecond however many lines share it. */
export function isoNow(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastIso = new Date(now).toISOString()
  }
  return lastIso
}

/**
 * The line of a request whose answer is over (sent, or cut short), the fields the request and its
 * answer say filled in: `startedAt` is its arrival (performance.now()); its status is the one sent,
 * or 499 when the client left before any. One function for the exchanges and the refusals.
 */
export function answeredEntry(req: IncomingMessage, res: ServerResponse, startedAt: number, fields: AnsweredFields): AccessEntry {
  return {
    time: isoNow(),
    method: req.method ?? '',
    path: req.url ?? '',
    status: res.headersSent ? res.statusCode : 499,
    durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
    complete: res.writableFinished,
    ...fields,
  }
}

/** What the caller knows of an answered request beyond the request and the answer themselves. */
export type AnsweredFields = Omit<AccessEntry, 'time' | 'method' | 'path' | 'status' | 'durationMs' | 'complete'>

/** The request body's length: a buffered body's, the declared one of a streamed body, null for a streamed chunked body. */
export function requestBytes(body: RequestBody, req: IncomingMessage): number | null {
  if (body === null) return 0
  if (Buffer.isBuffer(body)) return body.length
  const declared = req.headers['content-length']
  return declared !== undefined ? Number(declared) : null
}

/** Lines are gathered up to this many characters before they go to the destination in one write. */
const BATCH_CHARS = 64 * 1024
/** A quiet log still reaches its file this soon. */
const FLUSH_MS = 200
/** Beyond this much waiting for a slow disk, lines are dropped (and counted) rather than held without bound. */
const MAX_PENDING_CHARS = 16 * 1024 * 1024

export class AccessLog {
  readonly #stream: ReturnType<typeof pino.destination>
  readonly #sample: number
  #lines: string[] = []
  #chars = 0
  #timer: NodeJS.Timeout | undefined
  #dropped = 0

  /** `config.path` is a file (appended to) or `-` for stdout. */
  constructor(config: AccessLogConfig, logger: Logger) {
    // pino's destination (sonic-boom) does the fd work: appends, partial writes, EAGAIN on pipes.
    // Handing it one string per batch rather than one per line costs a quarter of the CPU.
    this.#stream = pino.destination({ dest: config.path === '-' ? 1 : config.path, sync: false, mkdir: true, maxLength: MAX_PENDING_CHARS })
    // A disk that cannot keep up: sonic-boom drops the batch rather than hold it without bound.
    this.#stream.on('drop', (data: string) => {
      const lines = data.split('\n').length - 1
      if (this.#dropped === 0) logger.warn({ event: 'access_log_dropping', path: config.path, lines }, 'access log: the destination cannot keep up; dropping lines')
      this.#dropped += lines
    })
    this.#sample = config.sample
  }

  /** Whether this request is logged (every one at `sample: 1`). */
  sampled(): boolean {
    return this.#sample >= 1 || Math.random() < this.#sample
  }

  write(entry: AccessEntry): void {
    const line = formatEntry(entry)
    this.#lines.push(line)
    this.#chars += line.length
    if (this.#chars >= BATCH_CHARS) this.#flush()
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS).unref()
  }

  #flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#lines.length === 0) return
    const batch = this.#lines.join('')
    this.#lines = []
    this.#chars = 0
    this.#stream.write(batch)
  }

  /** Writes what is buffered and closes the file; says how many lines were dropped, if any. */
  close(logger: Logger): Promise<void> {
    this.#flush()
    if (this.#dropped > 0) logger.warn({ event: 'access_log_dropped', lines: this.#dropped }, 'access log: lines were dropped')
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
