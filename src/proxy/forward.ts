import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import { performance } from 'node:perf_hooks'
import { pickInstance } from '../routing/pick.js'
import type { GroupRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import { classifyFailure, type FailureKind } from '../upstream/outcomes.js'
import type { GroupStats } from '../upstream/stats.js'
import { errorForFailure, sendError } from './errors.js'
import { buildResponseHeaders } from './headers.js'
import type { ServicePlan } from './plan.js'

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
  #instance: Instance | null = null
  #attemptOpen = false
  #responseStarted = false
  #clientClosed = false
  #retriedAfterSend = false
  #retriesLeft: number
  readonly #startedAt = performance.now()
  readonly #hasBody: boolean
  readonly #stats: GroupStats

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly plan: ServicePlan,
    /** The group chosen in the snapshot this request read; retries stay in it. */
    readonly group: GroupRoute<Instance>,
    readonly upstreamHeaders: string[],
    /** Flat header list added to the response (Set-Cookie, x-zdd-group), or undefined. */
    readonly extraResponseHeaders: string[] | undefined,
  ) {
    this.#retriesLeft = plan.retries
    this.#hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
    this.#stats = plan.stats.get(group.name)!
  }

  /**
   * Sends the request to `instance`; later attempts pick their own instance. The connection's
   * close is watched once per socket (see ProxyListener), not per request.
   */
  start(instance: Instance): void {
    const socket = this.req.socket as ClientSocket
    if (socket[CURRENT_EXCHANGE] === null) socket[CURRENT_EXCHANGE] = this
    else (socket[QUEUED_EXCHANGES] ??= new Set()).add(this)
    this.#dispatch(instance)
  }

  /** The exchange is over: the connection no longer needs to abort it when it closes. */
  #finish(): void {
    const socket = this.req.socket as ClientSocket | null
    if (socket === null) return
    if (socket[CURRENT_EXCHANGE] === this) socket[CURRENT_EXCHANGE] = null
    else socket[QUEUED_EXCHANGES]?.delete(this)
  }

  #dispatch(instance: Instance): void {
    this.#instance = instance
    this.#attemptOpen = true
    instance.inflight++
    instance.pool.dispatch(
      {
        path: this.req.url!,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body: this.#hasBody ? this.req : null,
      },
      this,
    )
  }

  #endAttempt(): void {
    if (this.#attemptOpen) {
      this.#attemptOpen = false
      this.#instance!.inflight--
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
    const instance = this.#instance!
    instance.failuresInARow = 0
    if (statusCode < 500) instance.fivexxInARow = 0
    else this.plan.outcomes.answered5xx(instance.id, ++instance.fivexxInARow)
    this.#stats.recordStatus(statusCode)
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
    this.#stats.recordDuration((performance.now() - this.#startedAt) / 1000)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const instance = this.#instance!
    this.#endAttempt()
    if (this.#clientClosed) {
      this.#finish()
      return
    }
    const kind = classifyFailure(error)
    this.#stats.upstreamErrors[kind]++
    this.plan.outcomes.attemptFailed(instance.id, kind, ++instance.failuresInARow)
    this.plan.logger.warn(
      { event: 'upstream_failure', service: this.plan.name, group: this.group.name, instance: instance.address, kind, err: error.message },
      'upstream request failed',
    )
    if (this.#responseStarted) {
      this.#finish()
      this.res.destroy()
      return
    }
    const next = this.#retryTarget(kind, instance)
    if (next !== undefined) {
      this.#retriesLeft--
      this.#stats.retries++
      this.#controller = null
      this.#dispatch(next)
      return
    }
    this.#finish()
    const answer = errorForFailure(kind)
    this.#stats.recordStatus(answer.status)
    this.#stats.recordDuration((performance.now() - this.#startedAt) / 1000)
    sendError(this.res, answer, `${kind} failure talking to ${this.group.name} instance ${instance.address}`)
  }

  /**
   * Where to retry, or undefined. A failed connect sent nothing: any method goes to another
   * instance, as long as its body was not read. Once sent (reset, timeout), only the service's
   * retry methods (GET, HEAD, OPTIONS; PUT and DELETE by opt-in), only without a body, and only
   * once. Every retry spends from the service's retry budget.
   */
  #retryTarget(kind: FailureKind, failed: Instance): Instance | undefined {
    if (this.#retriesLeft <= 0) return undefined
    const policy = this.plan.retry
    if (kind === 'connect') {
      if (this.#hasBody && this.req.readableDidRead) return undefined
    } else {
      if (this.#hasBody || this.#retriedAfterSend || !policy.retriesAfterSend(this.req.method!)) return undefined
    }
    const next = otherInstance(this.group.instances, failed)
    if (next === undefined || !policy.budget.tryAcquire()) return undefined
    if (kind !== 'connect') this.#retriedAfterSend = true
    return next
  }
}

/** P2C among the instances other than `failed`; the scan covers lists that repeat it (slow start). */
function otherInstance(instances: readonly Instance[], failed: Instance): Instance | undefined {
  const picked = pickInstance(instances, Math.random, failed)
  if (picked !== failed) return picked
  const start = Math.floor(Math.random() * instances.length)
  for (let i = 0; i < instances.length; i++) {
    const candidate = instances[(start + i) % instances.length]!
    if (candidate !== failed) return candidate
  }
  return undefined
}
