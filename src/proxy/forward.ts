import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import { pickInstance } from '../routing/pick.js'
import { performance } from 'node:perf_hooks'
import type { GroupRoute } from '../routing/types.js'
import { classifyFailure, errorForFailure, sendError, type FailureKind } from './errors.js'
import { buildResponseHeaders } from './headers.js'
import { retryPolicyOf } from './retry.js'
import type { GroupStats } from '../upstream/stats.js'
import type { Upstream } from '../upstream/pools.js'

const CLIENT_CLOSED = new Error('client closed the connection')

/** The exchange a client connection is serving, so its close can abort it (null between requests). */
export const CURRENT_EXCHANGE = Symbol('zdd.currentExchange')
/** Exchanges of requests pipelined behind the current one (rare: created on first use). */
const QUEUED_EXCHANGES = Symbol('zdd.queuedExchanges')

/** A client connection as the proxy listener tracks it. */
export type ClientSocket = Socket & { [CURRENT_EXCHANGE]: Exchange | null; [QUEUED_EXCHANGES]?: Set<Exchange> }

/**
 * The socket's 'close' listener, added once per connection (a per-request listener on the
 * response costs more, and never fires for a pipelined request's queued response).
 */
export function abortExchangesOf(this: ClientSocket): void {
  const exchange = this[CURRENT_EXCHANGE]
  this[CURRENT_EXCHANGE] = null
  exchange?.clientClosed()
  const queued = this[QUEUED_EXCHANGES]
  if (queued !== undefined) {
    this[QUEUED_EXCHANGES] = undefined
    for (const each of queued) each.clientClosed()
  }
}

/** Methods a reset may be retried for when the service installed no policy: safe and idempotent. */
function retryableAfterSend(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
}

/**
 * One client request on its way upstream: the undici dispatch handler for every attempt.
 * Streams the response straight into the ServerResponse with backpressure both ways (undici
 * pauses reading the upstream socket while the client is slow; the request body is a Readable
 * undici pulls from). Retries go to another instance of the same group: after a failed connect
 * for any method, after a reset or timeout before any response byte only once, for the service's
 * retry methods without a body, within its retry budget. Once response bytes went out, a failure
 * destroys the client connection so a truncated response never looks whole.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null
  #upstream: Upstream | null = null
  #attemptOpen = false
  #responseStarted = false
  #clientClosed = false
  #retriedAfterSend = false
  #retriesLeft: number
  readonly #startedAt = performance.now()

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly group: GroupRoute<Upstream>,
    readonly upstreamHeaders: string[],
    /** Flat header list added to the response (Set-Cookie, x-zdd-group), or undefined. */
    readonly extraResponseHeaders: string[] | undefined,
    readonly hasBody: boolean,
    retries: number,
    readonly stats: GroupStats,
    readonly onFailure: (exchange: Exchange, upstream: Upstream, kind: FailureKind, error: Error) => void,
  ) {
    this.#retriesLeft = retries
  }

  /**
   * Sends the request to `upstream`; later attempts pick their own instance. The connection's
   * close is watched once per socket (see ProxyListener), not per request.
   */
  start(upstream: Upstream): void {
    const socket = this.req.socket as ClientSocket
    if (socket[CURRENT_EXCHANGE] === null) socket[CURRENT_EXCHANGE] = this
    else (socket[QUEUED_EXCHANGES] ??= new Set()).add(this)
    this.#dispatch(upstream)
  }

  /** The exchange is over: the connection no longer needs to abort it when it closes. */
  #finish(): void {
    const socket = this.req.socket as ClientSocket | null
    if (socket === null) return
    if (socket[CURRENT_EXCHANGE] === this) socket[CURRENT_EXCHANGE] = null
    else socket[QUEUED_EXCHANGES]?.delete(this)
  }

  #dispatch(upstream: Upstream): void {
    this.#upstream = upstream
    this.#attemptOpen = true
    upstream.inflight++
    upstream.pool.dispatch(
      {
        path: this.req.url!,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body: this.hasBody ? this.req : null,
      },
      this,
    )
  }

  #endAttempt(): void {
    if (this.#attemptOpen) {
      this.#attemptOpen = false
      this.#upstream!.inflight--
    }
  }

  /** The client's connection closed: an attempt still running is aborted, nothing is retried. */
  clientClosed(): void {
    if (this.res.writableFinished) return
    this.#clientClosed = true
    if (this.#attemptOpen && this.#controller !== null && !this.#controller.aborted) this.#controller.abort(CLIENT_CLOSED)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#clientClosed) controller.abort(CLIENT_CLOSED)
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return // 1xx: we don't relay interim responses.
    this.#responseStarted = true
    const upstream = this.#upstream!
    upstream.responses++
    upstream.consecutiveFailures = 0
    if (statusCode >= 500) upstream.consecutive5xx++
    else upstream.consecutive5xx = 0
    this.stats.recordStatus(statusCode)
    const list = buildResponseHeaders(headers, this.extraResponseHeaders)
    if (statusMessage) this.res.writeHead(statusCode, statusMessage, list)
    else this.res.writeHead(statusCode, list)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause()
      this.res.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(): void {
    this.#endAttempt()
    this.#finish()
    this.res.end()
    this.stats.recordDuration((performance.now() - this.#startedAt) / 1000)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const upstream = this.#upstream!
    this.#endAttempt()
    if (this.#clientClosed) {
      this.#finish()
      return
    }
    const kind = classifyFailure(error)
    upstream.failures[kind]++
    upstream.consecutiveFailures++
    this.stats.upstreamErrors[kind]++
    upstream.onFailure?.(upstream, kind)
    this.onFailure(this, upstream, kind, error)
    if (this.#responseStarted) {
      this.#finish()
      this.res.destroy()
      return
    }
    const next = this.#retryTarget(kind, upstream)
    if (next !== undefined) {
      this.#retriesLeft--
      this.stats.retries++
      this.#controller = null
      this.#dispatch(next)
      return
    }
    this.#finish()
    const answer = errorForFailure(kind)
    this.stats.recordStatus(answer.status)
    this.stats.recordDuration((performance.now() - this.#startedAt) / 1000)
    sendError(this.res, answer, `${kind} failure talking to ${this.group.name} instance ${upstream.key}`)
  }

  /**
   * Where to retry, or undefined (DESIGN.md §5). A failed connect sent nothing: any method goes to
   * another instance, as long as its body was not read. Once sent (reset, timeout), only the
   * service's retry methods (GET, HEAD, OPTIONS; PUT and DELETE by opt-in), only without a body,
   * and only once. Every retry spends from the service's retry budget.
   */
  #retryTarget(kind: FailureKind, failed: Upstream): Upstream | undefined {
    if (this.#retriesLeft <= 0) return undefined
    const policy = retryPolicyOf(this.stats)
    if (kind === 'connect') {
      if (this.hasBody && this.req.readableDidRead) return undefined
    } else {
      if (this.hasBody || this.#retriedAfterSend) return undefined
      const method = this.req.method!
      if (!(policy === undefined ? retryableAfterSend(method) : policy.retriesAfterSend(method))) return undefined
    }
    const next = otherInstance(this.group.instances, failed)
    if (next === undefined) return undefined
    if (policy !== undefined && !policy.budget.tryAcquire()) return undefined
    if (kind !== 'connect') this.#retriedAfterSend = true
    return next
  }
}

/** P2C among the instances other than `failed`; the scan covers lists that repeat it (slow start). */
function otherInstance(instances: readonly Upstream[], failed: Upstream): Upstream | undefined {
  const picked = pickInstance(instances, Math.random, failed)
  if (picked !== failed) return picked
  const start = Math.floor(Math.random() * instances.length)
  for (let i = 0; i < instances.length; i++) {
    const candidate = instances[(start + i) % instances.length]!
    if (candidate !== failed) return candidate
  }
  return undefined
}
