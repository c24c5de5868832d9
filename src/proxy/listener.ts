import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { BlockList, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import type { SnapshotSource } from '../routing/snapshot.js'
import type { RouteTable } from '../routing/types.js'
import type { Logger } from '../support/log.js'
import type { Instance } from '../upstream/instance.js'
import { answerClientError, clientAddressOf, isTrusted, peerAddressOf, trustList } from './client.js'
import { answeredEntry, type AccessLog } from './access-log.js'
import { decide, emptyDecision, type Decision, type Refusal, type Route } from './decide.js'
import { ProxyErrors, sendError } from './errors.js'
import { hasBody } from './body.js'
import { Exchange } from './forward.js'
import { createH2Engine, ListenerFront } from './front.js'
import { buildUpstreamHeaders, buildUpstreamHeadersFromH2, GROUP_HEADER, removeCookie } from './headers.js'
import type { ServicePlan } from './plan.js'
import { answerRaw, checkRequest, h2Problem, h2RawHeaderLimit, RAW_HEADER_LIMIT } from './request-checks.js'
import { RequestIds } from './request-id.js'
import type { ListenerCertificates } from './tls.js'
import { followConnection } from './turns.js'
import { forwardUpgrade } from './upgrade.js'

/** What a reload may change on a listener that stays. */
export interface ListenerSettings {
  /** Client connections open at once; the listener refuses more. */
  readonly maxConnections: number
  /** Plans of the services on this address; more than one means every one declares vhosts. */
  readonly plans: readonly ServicePlan[]
  readonly trustedProxies: readonly string[]
  /** Where refused requests are logged, when the access log is on (exchanges log themselves). */
  readonly accessLog?: AccessLog
  /** The certificates of a TLS listener; absent: plain HTTP. */
  readonly tls?: ListenerCertificates
}

export interface ListenerOptions extends ListenerSettings {
  readonly host: string
  readonly port: number
  readonly table: SnapshotSource<RouteTable<Instance>>
  readonly logger: Logger
  /** HTTP/2 next to HTTP/1.1: through ALPN with TLS, with prior knowledge (h2c) without. */
  readonly http2: boolean
}

/**
 * One proxy listener: a node:http engine with sane limits for HTTP/1.1 and, when configured, a
 * node:http2 engine, fed by the front (plain, TLS with ALPN, or h2c). Every request (HTTP/1.1,
 * HTTP/2 or WebSocket) passes the same checks, is routed through the current snapshot (service by
 * vhost → group → instance, decide.ts) and forwarded with an Exchange (or as an upgrade).
 */
export class ProxyListener {
  /** The HTTP/1.1 engine. */
  readonly server: Server
  /** The HTTP/2 engine, when the listener speaks HTTP/2. */
  readonly h2: Http2Server | undefined
  readonly front: ListenerFront
  /** What X-Forwarded-Proto says from this listener. */
  readonly proto: 'http' | 'https'
  #settings: ListenerSettings
  #single: ServicePlan | undefined
  #vhosts = new Map<string, ServicePlan>()
  #trusted: BlockList | undefined
  #table: SnapshotSource<RouteTable<Instance>>
  readonly #requestIds = new RequestIds()
  readonly #decision: Decision = emptyDecision()

  constructor(readonly options: ListenerOptions) {
    this.#settings = options
    this.#table = options.table
    this.#single = undefined
    this.#apply(options)
    this.proto = options.tls === undefined ? 'http' : 'https'
    this.server = createServer(
      {
        headersTimeout: 10_000,
        requestTimeout: 60_000,
        keepAliveTimeout: 5_000,
        maxHeaderSize: 16 * 1024,
        requireHostHeader: true,
      },
      (req, res) => this.#handle(req, res),
    )
    this.server.on('connection', followConnection)
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head))
    this.server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
      answerRaw(socket, ProxyErrors.methodNotAllowed, 'CONNECT is not served: this is a reverse proxy'),
    )
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket))
    if (options.http2) {
      this.h2 = createH2Engine()
      this.h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#handleH2(req, res))
      // node:http2 answers CONNECT itself (a bare 405) unless told otherwise: answer as for HTTP/1.1.
      this.h2.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#handleH2(req, res))
    }
    this.front = new ListenerFront(options.tls !== undefined ? 'tls' : options.http2 ? 'h2c' : 'plain', this.server, this.h2, options.tls)
    this.front.server.maxConnections = options.maxConnections
  }

  /** Whether `options` can be applied to this listener (same protocols), or it must be replaced. */
  speaksAs(options: { readonly tls?: unknown; readonly http2: boolean }): boolean {
    return (options.tls !== undefined) === (this.options.tls !== undefined) && options.http2 === this.options.http2
  }

  /** A reload: the next requests see `settings`; those running keep their plans. */
  update(settings: ListenerSettings): void {
    this.#apply(settings)
    this.front.server.maxConnections = settings.maxConnections
    if (settings.tls !== undefined) this.front.setCertificates(settings.tls)
  }

  /**
   * A listener being closed because a reload removed its services keeps routing them with the
   * last table that had them (and the data plane keeps those instances' connections) until its
   * connections are closed: requests on them are served as before, not refused.
   */
  pinTable(table: RouteTable<Instance>): void {
    this.#table = { current: table }
  }

  #apply(settings: ListenerSettings): void {
    this.#settings = settings
    this.#single = settings.plans.length === 1 ? settings.plans[0] : undefined
    const vhosts = new Map<string, ServicePlan>()
    for (const plan of settings.plans) {
      for (const vhost of plan.vhosts) vhosts.set(vhost, plan)
    }
    this.#vhosts = vhosts
    this.#trusted = trustList(settings.trustedProxies)
  }

  /** The names of the services this listener serves now. */
  get services(): string[] {
    return this.#settings.plans.map((plan) => plan.name)
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return this.front.listen(this.options.port, this.options.host)
  }

  #planFor(req: IncomingMessage): ServicePlan | undefined {
    if (this.#single !== undefined) return this.#single
    const host = req.headers.host
    if (host === undefined) return undefined
    const colon = host.lastIndexOf(':')
    const name = (colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host).toLowerCase()
    return this.#vhosts.get(name)
  }

  /** Checks and routes `req` into #decision; the refusal, when it cannot be served. */
  #route(req: IncomingMessage, peer: string, rawHeaderLimit = RAW_HEADER_LIMIT): Refusal | undefined {
    const problem = checkRequest(req, rawHeaderLimit)
    if (problem !== undefined) return problem
    const plan = this.#planFor(req)
    if (plan === undefined) return { error: ProxyErrors.unknownHost, message: `no service for host ${req.headers.host ?? ''}` }
    const service = this.#table.current.servicesByName.get(plan.name)
    if (service === undefined) return { error: ProxyErrors.noLiveInstance, message: `service ${plan.name} has no live instance` }
    return decide(req, plan, service, peer, this.#trusted, this.#decision)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const peer = peerAddressOf(req.socket)
    const trusted = isTrusted(this.#trusted, peer)
    const requestId = this.#requestIds.of(req, trusted)
    const refusal = this.#route(req, peer)
    if (refusal !== undefined) return this.#refuse(req, res, peer, requestId, refusal)
    const headers = buildUpstreamHeaders(req, peer, trusted, requestId, this.proto)
    if (headers === undefined) return sendError(res, ProxyErrors.badRequest, 'more than one Host header', { requestId })
    this.#forward(req, res, peer, headers, requestId)
  }

  /**
   * An HTTP/2 request. The compatibility API mirrors node:http's request and response, so the
   * same checks, routing and Exchange serve it; what HTTP/2 does differently is settled here
   * (`:authority` for Host, pseudo-headers, split cookies, CONNECT) and in Exchange (no turns: each
   * stream is its own request; no reason phrase).
   */
  #handleH2(h2req: Http2ServerRequest, h2res: Http2ServerResponse): void {
    const req = h2req as unknown as IncomingMessage
    const res = h2res as unknown as ServerResponse
    // The session's socket is reachable only while the session lives: read the peer now.
    const peer = peerAddressOf(req.socket)
    const trusted = isTrusted(this.#trusted, peer)
    const requestId = this.#requestIds.of(req, trusted)
    const refusal = h2Problem(h2req) ?? this.#route(req, peer, h2RawHeaderLimit(h2req))
    if (refusal !== undefined) return this.#refuse(req, res, peer, requestId, refusal)
    this.#forward(req, res, peer, buildUpstreamHeadersFromH2(req, peer, trusted, requestId, this.proto), requestId)
  }

  /** The proxy's own answer to a request it cannot route, logged when the access log samples it. */
  #refuse(req: IncomingMessage, res: ServerResponse, peer: string, requestId: string, refusal: Refusal): void {
    if (this.#settings.accessLog?.sampled()) this.#logRefusal(req, res, peer, requestId)
    sendError(res, refusal.error, refusal.message, { requestId })
  }

  /** A routed request on its way: #route's decision holds every field for it. */
  #forward(req: IncomingMessage, res: ServerResponse, peer: string, headers: string[], requestId: string): void {
    const route = this.#decision as Route
    withoutSecretCookie(headers, route.plan)
    // The client's address (through trusted proxies) only for a line the access log will write.
    const client = route.plan.accessLog?.sampled() === true ? clientAddressOf(req, peer, this.#trusted) : undefined
    new Exchange(req, res, route, headers, requestId, client).start()
  }

  /** The access log line of a request the proxy answered itself, before any instance. */
  #logRefusal(req: IncomingMessage, res: ServerResponse, peer: string, requestId: string): void {
    const startedAt = performance.now()
    const service = this.#planFor(req)?.name ?? ''
    res.once('close', () => {
      const client = clientAddressOf(req, peer, this.#trusted)
      // No body read, none relayed, no group, instance or retry: the proxy answered before any.
      this.#settings.accessLog!.write(answeredEntry(req, res, startedAt, { requestId, client, bytesIn: null, bytesOut: 0, service, group: '', instance: '', retries: 0, redispatched: false, sticky: 'none' }))
    })
  }

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const protocol = (req.headers.upgrade ?? '').toLowerCase()
    if (protocol !== 'websocket') return this.#plainInstead(req, socket)
    const peer = peerAddressOf(req.socket)
    const trusted = isTrusted(this.#trusted, peer)
    const requestId = this.#requestIds.of(req, trusted)
    // The same checks as a plain request, and a WebSocket handshake is a GET (RFC 6455 §4.1).
    const refusal: Refusal | undefined =
      req.method === 'GET' ? this.#route(req, peer) : { error: ProxyErrors.methodNotAllowed, message: 'a WebSocket upgrade is a GET request' }
    if (refusal !== undefined) {
      return answerRaw(socket, refusal.error, refusal.message, requestId, refusal.error === ProxyErrors.methodNotAllowed ? 'allow: GET\r\n' : '')
    }
    const headers = buildUpstreamHeaders(req, peer, trusted, requestId, this.proto)
    if (headers === undefined) return answerRaw(socket, ProxyErrors.badRequest, 'more than one Host header', requestId)
    const { plan, group, instance, extraHeaders } = this.#decision
    withoutSecretCookie(headers, plan!)
    const extra = plan!.exposeGroupHeader ? [...(extraHeaders ?? []), GROUP_HEADER, group!.name] : extraHeaders
    forwardUpgrade(req, socket, head, instance!, headers, extra, this.options.logger)
  }

  /** Other upgrades (h2c): answered as a plain HTTP/1.1 request on this connection, which then closes. */
  #plainInstead(req: IncomingMessage, socket: Duplex): void {
    if (hasBody(req)) {
      answerRaw(socket, ProxyErrors.badRequest, 'an upgrade request with a body is not served')
      return
    }
    const res = new ServerResponse(req)
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    res.once('finish', () => {
      res.detachSocket(socket as Socket)
      socket.end()
    })
    req.push(null)
    this.#handle(req, res)
  }
}

/** With an override secret, the override cookie carries it (`GROUP:SECRET`): it stops here. */
function withoutSecretCookie(headers: string[], plan: ServicePlan): void {
  if (plan.overrideSecretDigest !== undefined && plan.overrideCookiePrefix !== '') removeCookie(headers, plan.overrideCookiePrefix)
}
