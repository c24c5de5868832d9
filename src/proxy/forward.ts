import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { GroupRoute, ServiceRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import { classifyFailure, type FailureKind } from '../upstream/outcomes.js'
import type { SlotWaiter } from '../upstream/slots.js'
import type { GroupStats } from '../upstream/stats.js'
import { bodyReplayable, hasBody, readBody, type RequestBody } from './body.js'
import { errorForFailure, ProxyErrors, sendError, type ProxyError } from './errors.js'
import { buildResponseHeaders } from './headers.js'
import { nextAttempt, redispatch, roomyInstance } from './next-attempt.js'
import type { ServicePlan } from './plan.js'
import { endTurn, takeTurn, type Turn } from './turns.js'

const CLIENT_CLOSED = new Error('client closed the connection')
const CLIENT_STALLED = new Error('client read nothing for the send timeout')

/** Where a request goes, as the listener decided it from the snapshot the request read. */
export interface Route {
  readonly plan: ServicePlan
  readonly service: ServiceRoute<Instance>
  readonly group: GroupRoute<Instance>
  readonly instance: Instance
  /** The sticky key's hash (random without one): redispatch keeps the key's choice by weight. */
  readonly keyHash: number
  /** Flat header list added to the response (Set-Cookie, x-zdd-group), or undefined. */
  readonly extraHeaders: string[] | undefined
}

/**
 * One client request on its way upstream: the undici dispatch handler for every attempt.
 * It waits for its turn on its client connection (pipelined requests go one at a time, in order),
 * reads a small body whole, takes a connection slot of its instance (or waits, bounded), and
 * streams the response straight into the ServerResponse with backpressure both ways. A failed
 * attempt is reported to the outcome sink and retried when that is safe (next-attempt.ts): on
 * another instance of the group, or, after a refused connection with none left, on another group
 * (redispatch). Once response bytes went out, a failure destroys the client connection so a
 * truncated response never looks whole; a client that reads nothing for `sendMs` is closed.
 */
export class Exchange implements Dispatcher.DispatchHandler, SlotWaiter, Turn {
  readonly plan: ServicePlan
  readonly service: ServiceRoute<Instance>
  readonly keyHash: number
  readonly extraResponseHeaders: string[] | undefined
  #group: GroupRoute<Instance>
  #stats: GroupStats
  #instance: Instance
  #controller: Dispatcher.DispatchController | null = null
  /** Counted in the instance's inflight; `#sending`: also holds one of its connection slots. */
  #assigned = false
  #sending = false
  #responseStarted = false
  #clientClosed = false
  #retriedAfterSend = false
  #redispatched = false
  #retriesLeft: number
  #body: RequestBody = null
  #sendTimer: NodeJS.Timeout | undefined
  readonly #startedAt = performance.now()
  /** Kept: a request whose body went upstream as a stream loses its `socket` once that stream is done. */
  readonly #socket: Socket

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    route: Route,
    readonly upstreamHeaders: string[],
  ) {
    this.plan = route.plan
    this.service = route.service
    this.keyHash = route.keyHash
    this.extraResponseHeaders = route.extraHeaders
    this.#group = route.group
    this.#instance = route.instance
    this.#stats = route.plan.stats.get(route.group.name)!
    this.#retriesLeft = route.plan.retries
    this.#socket = req.socket
  }

  /** Queues the request on its client connection; it begins when the requests before it are over. */
  start(): void {
    takeTurn(this.#socket, this)
  }

  begin(): void {
    if (!hasBody(this.req)) this.#assign(this.#instance)
    else {
      readBody(this.req, this.plan.requestBufferBytes, (body) => {
        this.#body = body
        if (!this.#clientClosed) this.#assign(this.#instance)
      })
    }
  }

  /** Takes a connection slot of `instance`, waits for one, or goes elsewhere when it has no room. */
  #assign(instance: Instance): void {
    // A request that waited for its turn may find its instance gone since.
    if (instance.draining) instance = roomyInstance(this.#group.instances, undefined) ?? instance
    this.#instance = instance
    this.#assigned = true
    instance.inflight++
    const slot = instance.slots.acquire(this)
    if (slot === 'now') this.#send()
    else if (slot === 'full') this.#overflow('at its connection and queue limits')
  }

  admitted(): void {
    if (this.#clientClosed) {
      this.#sending = true
      this.#endAttempt()
      return
    }
    this.#send()
  }

  expired(): void {
    this.#overflow(`no free connection within ${this.plan.queueMs} ms`)
  }

  /** The instance has no room: another one of the group with room, another group, or a 503. */
  #overflow(why: string): void {
    const full = this.#instance
    this.#unassign()
    const other = roomyInstance(this.#group.instances, full)
    if (other !== undefined) return this.#assign(other)
    const to = this.#redispatchTarget()
    if (to !== undefined) return this.#assign(to)
    this.#answer(ProxyErrors.overloaded, `every instance of group ${this.#group.name} is busy: ${why}`, 1)
  }

  #send(): void {
    this.#sending = true
    const instance = this.#instance
    instance.pool.dispatch(
      { path: this.req.url!, method: this.req.method as Dispatcher.HttpMethod, headers: this.upstreamHeaders, body: this.#body },
      this,
    )
  }

  /** The attempt is over: its slot goes to the next waiter, its load off the instance. */
  #endAttempt(): void {
    if (!this.#assigned) return
    const instance = this.#instance
    this.#unassign()
    if (this.#sending) {
      this.#sending = false
      instance.slots.release()
    }
  }

  #unassign(): void {
    if (!this.#assigned) return
    this.#assigned = false
    this.#instance.inflight--
    if (!this.#sending) this.#instance.slots.cancel(this)
  }

  /** The exchange is over: the next request on its client connection may begin. */
  #finish(): void {
    clearTimeout(this.#sendTimer)
    endTurn(this.#socket, this)
  }

  /** The client's connection closed: an attempt still running is aborted, nothing is retried. */
  clientClosed(): void {
    if (this.res.writableFinished) return
    this.#clientClosed = true
    clearTimeout(this.#sendTimer)
    if (this.#controller !== null && !this.#controller.aborted) this.#controller.abort(CLIENT_CLOSED)
    else if (!this.#sending) this.#unassign()
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
    const instance = this.#instance
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
      this.#sendTimer ??= setTimeout(this.#stalled, this.plan.sendMs)
      this.res.once('drain', () => {
        clearTimeout(this.#sendTimer)
        this.#sendTimer = undefined
        controller.resume()
      })
    }
  }

  /** The client read nothing for `sendMs`: close it and free the upstream connection. */
  readonly #stalled = (): void => {
    this.#sendTimer = undefined
    this.plan.logger.warn({ event: 'client_stalled', service: this.plan.name, group: this.#group.name, sendMs: this.plan.sendMs }, 'client stopped reading: closed')
    this.#clientClosed = true
    if (this.#controller !== null && !this.#controller.aborted) this.#controller.abort(CLIENT_STALLED)
    this.res.destroy()
  }

  onResponseEnd(): void {
    this.#endAttempt()
    this.res.end()
    this.#stats.recordDuration((performance.now() - this.#startedAt) / 1000)
    // A client still behind on reading keeps its send timer: it must read the rest in time too.
    if (this.#sendTimer === undefined) this.#finish()
    else this.res.once('finish', () => this.#finish())
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const failed = this.#instance
    this.#endAttempt()
    this.#controller = null
    if (this.#clientClosed) {
      this.#finish()
      return
    }
    const kind = classifyFailure(error)
    this.#stats.upstreamErrors[kind]++
    this.plan.outcomes.attemptFailed(failed.id, kind, ++failed.failuresInARow)
    this.plan.logger.warn(
      { event: 'upstream_failure', service: this.plan.name, group: this.#group.name, instance: failed.address, kind, err: error.message },
      'upstream request failed',
    )
    if (this.#responseStarted) {
      this.#finish()
      this.res.destroy()
      return
    }
    const next = this.#nextAttempt(kind, failed)
    if (next !== undefined) return this.#assign(next)
    this.#answer(errorForFailure(kind), `${kind} failure talking to ${this.#group.name} instance ${failed.address}`)
  }

  #nextAttempt(kind: FailureKind, failed: Instance): Instance | undefined {
    const decision = nextAttempt({
      kind,
      failed,
      group: this.#group,
      retriesLeft: this.#retriesLeft,
      replayable: bodyReplayable(this.#body, this.req),
      hasBody: this.#body !== null,
      retriedAfterSend: this.#retriedAfterSend,
      method: this.req.method!,
      policy: this.plan.retry,
    })
    if (decision === 'redispatch') return this.#redispatchTarget()
    if (decision === undefined) return undefined
    this.#retriesLeft--
    this.#stats.retries++
    if (kind !== 'connect') this.#retriedAfterSend = true
    return decision
  }

  /** Another group's instance for this request's key, once per request; counted and logged per episode. */
  #redispatchTarget(): Instance | undefined {
    if (!this.plan.redispatch || this.#redispatched || !bodyReplayable(this.#body, this.req)) return undefined
    const to = redispatch(this.plan, this.service, this.keyHash, this.#group)
    if (to === undefined) return undefined
    this.#redispatched = true
    this.#group = to.group
    this.#stats = this.plan.stats.get(to.group.name)!
    return to.instance
  }

  /** The proxy's own answer (an error): counted like any response. */
  #answer(error: ProxyError, message: string, retryAfterSeconds?: number): void {
    this.#finish()
    this.#stats.recordStatus(error.status)
    this.#stats.recordDuration((performance.now() - this.#startedAt) / 1000)
    sendError(this.res, error, message, retryAfterSeconds)
  }
}
