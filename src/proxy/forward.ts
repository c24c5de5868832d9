import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { GroupRoute, ServiceRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import type { FailureKind } from '../upstream/outcomes.js'
import type { GroupStats } from '../upstream/stats.js'
import { bodyReplayable, hasBody, readBody, type RequestBody } from './body.js'
import { clientMessageFor, errorForFailure, ProxyErrors, sendError, type ProxyError } from './errors.js'
import { isRefusedInterim, mayResend, sendThroughNodeHttp, type FallbackHandler } from './fallback.js'
import { InstanceClaim } from './claim.js'
import { buildResponseHeaders } from './headers.js'
import { nextAttempt, redispatch, retriesOnce, roomyInstance } from './next-attempt.js'
import { answeredEntry, requestBytes, type StickyKind } from './access-log.js'
import type { Route } from './decide.js'
import { BAD_STATUS, countAnswer, countDuration, countStatus, reportFailure, warnOverloaded, warnStalled } from './exchange-reports.js'
import { groupStats, type ServicePlan } from './plan.js'
import { answerBodiless, writeHead } from './response-head.js'
import { endTurn, takeTurn, type Turn } from './turns.js'

const CLIENT_CLOSED = new Error('client closed the connection')
const CLIENT_STALLED = new Error('client read nothing for the send timeout')

/**
 * One client request on its way upstream: the undici dispatch handler for every attempt. It waits
 * for its turn on its client connection (pipelined requests go one at a time, in order), reads a
 * small body whole, takes a connection slot of its instance (or waits, bounded), and streams the
 * response into the ServerResponse with backpressure both ways. A failed attempt is reported to the
 * outcome sink and tried again when that is safe (next-attempt.ts), in the group or another one
 * (redispatch). Once response bytes went out, a failure destroys the client connection so a
 * truncated response never looks whole; a client that reads nothing for `sendMs` is closed.
 */
export class Exchange extends InstanceClaim implements Dispatcher.DispatchHandler, Turn, FallbackHandler {
  readonly plan: ServicePlan
  readonly service: ServiceRoute<Instance>
  readonly keyHash: number
  readonly extraResponseHeaders: string[] | undefined
  readonly newClient: boolean
  readonly #sticky: StickyKind
  #group: GroupRoute<Instance>
  #stats: GroupStats
  #controller: Dispatcher.DispatchController | null = null
  #responseStarted = false
  /** The client has its whole answer already (204/304): what undici still reports (a length mismatch, which says nothing about the instance) is ignored. */
  #answered = false
  #retriedAfterTimeout = false
  /** The instances attempts failed on (made at the first failure). */
  #tried: Instance[] | undefined
  #redispatched: boolean
  #fellBack = false
  #retriesLeft: number
  #body: RequestBody = null
  #sendTimer: NodeJS.Timeout | undefined
  /** Body bytes relayed to the client (the access log's bytesOut). */
  #bytesOut = 0
  readonly #startedAt = performance.now()
  /** Kept: a request whose body went upstream as a stream loses its `socket` once that stream is done. */
  readonly #socket: Socket
  /** An HTTP/2 stream: its own request (no turns on a connection), no reason phrase. */
  readonly #h2: boolean

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    route: Route,
    readonly upstreamHeaders: string[],
    readonly requestId: string,
    /** The client's address through trusted proxies; given only when the access log writes this request's line. */
    readonly clientAddress?: string,
  ) {
    super(route.instance)
    this.plan = route.plan
    this.service = route.service
    this.keyHash = route.keyHash
    this.extraResponseHeaders = route.extraHeaders
    this.newClient = route.newClient
    this.#sticky = route.sticky
    this.#redispatched = route.redispatched
    this.#group = route.group
    this.#stats = groupStats(route.plan, route.group.name)
    this.#retriesLeft = route.plan.retries
    this.#h2 = req.httpVersionMajor === 2
    this.#socket = this.#h2 ? (undefined as unknown as Socket) : req.socket
    if (clientAddress !== undefined) res.once('close', () => this.#logAccess())
  }

  /** Queues the request on its client connection; it begins when the requests before it are over. */
  start(): void {
    if (!this.#h2) return takeTurn(this.#socket, this)
    // HTTP/2 multiplexes: a stream that closes before its answer ended (reset by the client, or its
    // connection gone) is its client leaving. (node:http2 calls such a stream's response finished.)
    this.res.once('close', () => {
      if (!this.res.writableEnded) this.#clientLeft()
    })
    this.begin()
  }

  begin(): void {
    if (!hasBody(this.req)) this.assign(this.instance)
    else {
      readBody(this.req, this.plan.requestBufferBytes, (body) => {
        this.#body = body
        if (!this.clientGone) this.assign(this.instance)
      })
    }
  }

  protected pickAnother(): Instance | undefined {
    return roomyInstance(this.#group.instances, undefined)
  }

  /** The instance has no room: another one of the group with room, another group, or a 503. */
  protected overflow(full: Instance, why: string): void {
    const other = roomyInstance(this.#group.instances, full)
    if (other !== undefined) return this.assign(other)
    const to = this.#redispatchTarget()
    if (to !== undefined) return this.assign(to)
    warnOverloaded(this.plan, this.#group.name, this.requestId, why)
    this.#answer(ProxyErrors.overloaded, `every instance of group ${this.#group.name} is busy; retry later`, 1)
  }

  protected send(): void {
    this.instance.pool.dispatch(
      { path: this.req.url!, method: this.req.method as Dispatcher.HttpMethod, headers: this.upstreamHeaders, body: this.#body },
      this,
    )
  }

  /** The exchange is over: the next request on its client connection may begin. */
  #finish(): void {
    clearTimeout(this.#sendTimer)
    if (!this.#h2) endTurn(this.#socket, this)
  }

  /** The client's connection closed: an attempt still running is aborted, nothing is retried. */
  clientClosed(): void {
    if (this.res.writableFinished) return
    this.#clientLeft()
  }

  #clientLeft(): void {
    this.clientGone = true
    clearTimeout(this.#sendTimer)
    if (this.#controller !== null && !this.#controller.aborted) this.#controller.abort(CLIENT_CLOSED)
    else if (!this.sending) this.unassign()
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.clientGone) controller.abort(CLIENT_CLOSED)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode < 200) return // 1xx: we don't relay interim responses.
    if (statusCode > 599) return controller.abort(BAD_STATUS) // Not HTTP: never passed on (Envoy answers 502).
    this.#responseStarted = true
    countAnswer(this.plan, this.#stats, this.instance, statusCode, this.#sticky, this.keyHash)
    const list = buildResponseHeaders(headers, this.extraResponseHeaders, this.newClient, this.plan.exposeGroupHeader ? this.#group.name : undefined)
    if (statusCode === 204 || statusCode === 304) {
      this.#answered = true
      answerBodiless(this.res, this.#h2, statusCode, statusMessage, list)
      return countDuration(this.#stats, this.#startedAt)
    }
    writeHead(this.res, this.#h2, statusCode, statusMessage, list)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#answered) return
    this.#bytesOut += chunk.length
    if (this.res.write(chunk)) return
    controller.pause()
    this.#sendTimer ??= setTimeout(Exchange.#stalled, this.plan.sendMs, this)
    this.res.once('drain', () => {
      clearTimeout(this.#sendTimer)
      this.#sendTimer = undefined
      controller.resume()
    })
  }

  /** The client read nothing for `sendMs`: close it and free the upstream connection. */
  static #stalled(exchange: Exchange): void {
    exchange.#sendTimer = undefined
    warnStalled(exchange.plan, exchange.#group.name, exchange.requestId)
    exchange.clientGone = true
    if (exchange.#controller !== null && !exchange.#controller.aborted) exchange.#controller.abort(CLIENT_STALLED)
    exchange.res.destroy()
  }

  onResponseEnd(): void {
    this.release()
    if (this.#answered) return this.#finish()
    this.res.end()
    countDuration(this.#stats, this.#startedAt)
    // A client still behind on reading keeps its send timer: it must read the rest in time too.
    if (this.#sendTimer === undefined) this.#finish()
    else this.res.once('finish', () => this.#finish())
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#failed(error)
  }

  #failed(error: Error): void {
    const failed = this.instance
    this.#controller = null
    if (this.#answered || this.clientGone) {
      this.release()
      return this.#finish()
    }
    // Hold the slot through the fallback: it is the same request to the same instance.
    const interim = isRefusedInterim(error)
    if (interim && !this.#responseStarted && !this.#fellBack && mayResend(this.req.method!) && (this.#body === null || Buffer.isBuffer(this.#body))) {
      this.#fellBack = true
      sendThroughNodeHttp(failed, this.req.method!, this.req.url!, this.upstreamHeaders, this.#body, this.plan.headersMs, this)
      return
    }
    this.release()
    const kind = reportFailure(this.plan, this.#stats, this.#group.name, failed, this.requestId, error, interim)
    if (this.#responseStarted) {
      this.#finish()
      this.res.destroy()
      return
    }
    const next = this.#nextAttempt(kind, failed)
    if (next !== undefined) return this.assign(next)
    this.#answer(errorForFailure(kind), clientMessageFor(kind))
  }

  onFallbackResponse(response: IncomingMessage): void {
    const statusCode = response.statusCode ?? 502
    if (this.clientGone || statusCode > 599) {
      response.destroy()
      return this.onFallbackError(BAD_STATUS)
    }
    this.#responseStarted = true
    countAnswer(this.plan, this.#stats, this.instance, statusCode, this.#sticky, this.keyHash)
    writeHead(this.res, this.#h2, statusCode, response.statusMessage, buildResponseHeaders(response.headers, this.extraResponseHeaders, this.newClient, this.plan.exposeGroupHeader ? this.#group.name : undefined))
    response.pipe(this.res, { end: false })
    response.once('end', () => this.onResponseEnd())
    response.once('error', (error) => this.onFallbackError(error))
  }

  onFallbackError(error: Error): void {
    this.#fellBack = true
    if (this.#responseStarted || this.clientGone) {
      this.release()
      this.#finish()
      if (this.#responseStarted) this.res.destroy()
      return
    }
    this.#failed(error)
  }

  #nextAttempt(kind: FailureKind, failed: Instance): Instance | undefined {
    const tried = (this.#tried ??= [])
    tried.push(failed)
    const decision = nextAttempt({
      kind, tried, group: this.#group, retriesLeft: this.#retriesLeft, retriedAfterTimeout: this.#retriedAfterTimeout,
      replayable: bodyReplayable(this.#body, this.req), hasBody: this.#body !== null, method: this.req.method!, policy: this.plan.retry,
    })
    if (decision === 'redispatch') return this.#redispatchTarget()
    if (decision === undefined) return undefined
    this.#retriesLeft--
    this.#stats.retries++
    if (retriesOnce(kind)) this.#retriedAfterTimeout = true
    return decision
  }

  /** Another group's instance for this request's key, once per request; counted and logged per episode. */
  #redispatchTarget(): Instance | undefined {
    if (!this.plan.redispatch || this.#redispatched || !bodyReplayable(this.#body, this.req)) return undefined
    const to = redispatch(this.plan, this.service, this.keyHash, this.#group)
    if (to === undefined) return undefined
    this.#redispatched = true
    this.#group = to.group
    this.#stats = groupStats(this.plan, to.group.name)
    return to.instance
  }

  /** The request's access log line, once its answer is over (sent, or cut short); its instance is the last attempt's. */
  #logAccess(): void {
    const { req, plan } = this
    const entry = answeredEntry(req, this.res, this.#startedAt, {
      requestId: this.requestId, client: this.clientAddress!, bytesIn: requestBytes(this.#body, req), bytesOut: this.#bytesOut,
      service: plan.name, group: this.#group.name, instance: this.instance.address, retries: plan.retries - this.#retriesLeft,
      redispatched: this.#redispatched, sticky: this.#sticky,
    })
    plan.accessLog!.write(entry)
  }

  /** The proxy's own answer (an error): counted like any response, named by the request id only. */
  #answer(error: ProxyError, message: string, retryAfterSeconds?: number): void {
    this.#finish()
    countStatus(this.#stats, error.status, this.#sticky, this.keyHash)
    countDuration(this.#stats, this.#startedAt)
    sendError(this.res, error, `${message} (request id ${this.requestId})`, { retryAfterSeconds, requestId: this.requestId })
  }
}
