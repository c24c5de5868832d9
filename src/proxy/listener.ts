import { createServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server } from 'node:http'
import type { BlockList, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import type { SnapshotSource } from '../routing/snapshot.js'
import type { RouteTable } from '../routing/types.js'
import type { Logger } from '../support/log.js'
import type { Instance } from '../upstream/instance.js'
import { answerClientError, clientAddressOf, isTrusted, peerAddressOf, toOriginForm, trustList, validHost } from './client.js'
import { isoNow, type AccessLog } from './access-log.js'
import { decide, emptyDecision, type Decision, type Refusal, type Route } from './decide.js'
import { ProxyErrors, sendError, type ProxyError } from './errors.js'
import { Exchange } from './forward.js'
import { buildUpstreamHeaders, removeCookie } from './headers.js'
import type { ServicePlan } from './plan.js'
import { RequestIds } from './request-id.js'
import { followConnection } from './turns.js'
import { forwardUpgrade } from './upgrade.js'

const MAX_TARGET_LENGTH = 8 * 1024
const MAX_HEADER_COUNT = 100

export interface ListenerOptions {
  readonly host: string
  readonly port: number
  /** Client connections open at once; the listener refuses more. */
  readonly maxConnections: number
  /** Plans of the services on this address; more than one means every one declares vhosts. */
  readonly plans: readonly ServicePlan[]
  readonly table: SnapshotSource<RouteTable<Instance>>
  readonly trustedProxies: readonly string[]
  readonly logger: Logger
  /** Where refused requests are logged, when the access log is on (exchanges log themselves). */
  readonly accessLog?: AccessLog
}

/** What the checks of a request found wrong, or undefined. */
type Problem = readonly [ProxyError, string] | undefined

/**
 * One proxy listener: node:http server with sane limits. Every request (plain or WebSocket) passes
 * the same checks, is routed through the current snapshot (service by vhost → group → instance,
 * decide.ts) and forwarded with an Exchange (or as an upgrade).
 */
export class ProxyListener {
  readonly server: Server
  readonly #single: ServicePlan | undefined
  readonly #vhosts = new Map<string, ServicePlan>()
  readonly #trusted: BlockList | undefined
  readonly #requestIds = new RequestIds()
  readonly #decision: Decision = emptyDecision()

  constructor(readonly options: ListenerOptions) {
    this.#single = options.plans.length === 1 ? options.plans[0] : undefined
    for (const plan of options.plans) {
      for (const vhost of plan.vhosts) this.#vhosts.set(vhost, plan)
    }
    this.#trusted = trustList(options.trustedProxies)
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
    this.server.maxConnections = options.maxConnections
    this.server.on('connection', followConnection)
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head))
    this.server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
      answerRaw(socket, ProxyErrors.methodNotAllowed, 'CONNECT is not served: this is a reverse proxy'),
    )
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket))
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const address = this.server.address()
    return typeof address === 'object' && address !== null ? address.port : this.options.port
  }

  #planFor(req: IncomingMessage): ServicePlan | undefined {
    if (this.#single !== undefined) return this.#single
    const host = req.headers.host
    if (host === undefined) return undefined
    const colon = host.lastIndexOf(':')
    const name = (colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host).toLowerCase()
    return this.#vhosts.get(name)
  }

  /** The checks every request passes before it is routed; the target loses its fragment here. */
  #check(req: IncomingMessage): Problem {
    let url = req.url!
    if (url.length > MAX_TARGET_LENGTH) return [ProxyErrors.uriTooLong, `request target longer than ${MAX_TARGET_LENGTH} bytes`]
    const hash = url.indexOf('#')
    // A fragment names a part of a resource for the client; it is never sent (RFC 9110 §4.2.5).
    if (hash >= 0) req.url = url = url.slice(0, hash)
    if (url.charCodeAt(0) !== 47 /* / */ && !toOriginForm(req)) {
      return [ProxyErrors.badRequest, 'request target must be a path or an absolute http URL with host[:port]']
    }
    if (req.rawHeaders.length > MAX_HEADER_COUNT * 2) return [ProxyErrors.headersTooLarge, `more than ${MAX_HEADER_COUNT} request headers`]
    const host = req.headers.host
    // HTTP/1.0 may omit Host; when present it must be one authority.
    if ((host !== undefined || req.httpVersionMinor !== 0) && !validHost(host)) return [ProxyErrors.badRequest, 'Host must be one host[:port]']
    return undefined
  }

  /** Checks and routes `req` into #decision; the refusal, when it cannot be served. */
  #route(req: IncomingMessage, peer: string): Refusal | undefined {
    const problem = this.#check(req)
    if (problem !== undefined) return { error: problem[0], message: problem[1] }
    const plan = this.#planFor(req)
    if (plan === undefined) return { error: ProxyErrors.unknownHost, message: `no service for host ${req.headers.host ?? ''}` }
    const service = this.options.table.current.servicesByName.get(plan.name)
    if (service === undefined) return { error: ProxyErrors.noLiveInstance, message: `service ${plan.name} has no live instance` }
    return decide(req, plan, service, peer, this.#trusted, this.#decision)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const peer = peerAddressOf(req.socket)
    const trusted = isTrusted(this.#trusted, peer)
    const requestId = this.#requestIds.of(req, trusted)
    const refusal = this.#route(req, peer)
    if (refusal !== undefined) {
      if (this.options.accessLog?.sampled()) this.#logRefusal(req, res, peer, requestId)
      return sendError(res, refusal.error, refusal.message, { requestId })
    }
    const headers = buildUpstreamHeaders(req, peer, trusted, requestId)
    if (headers === undefined) return sendError(res, ProxyErrors.badRequest, 'more than one Host header', { requestId })
    if (this.#decision.plan!.overrideSecretDigest !== undefined) withoutSecretCookie(headers, this.#decision.plan!)
    // #route found a route: the decision's fields are all set for this request.
    const route = this.#decision as Route
    const client = route.plan.accessLog === undefined ? '' : clientAddressOf(req, peer, this.#trusted)
    new Exchange(req, res, route, headers, requestId, client).start()
  }

  /** The access log line of a request the proxy answered itself, before any instance. */
  #logRefusal(req: IncomingMessage, res: ServerResponse, peer: string, requestId: string): void {
    const startedAt = performance.now()
    const service = this.#planFor(req)?.name ?? ''
    res.once('close', () => {
      this.options.accessLog!.write({
        time: isoNow(),
        requestId,
        client: clientAddressOf(req, peer, this.#trusted),
        method: req.method ?? '',
        path: req.url ?? '',
        status: res.headersSent ? res.statusCode : 499,
        bytesIn: null,
        bytesOut: 0,
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
        complete: res.writableFinished,
        service,
        group: '',
        instance: '',
        retries: 0,
        redispatched: false,
        sticky: 'none',
      })
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
    const headers = buildUpstreamHeaders(req, peer, trusted, requestId)
    if (headers === undefined) return answerRaw(socket, ProxyErrors.badRequest, 'more than one Host header', requestId)
    if (this.#decision.plan!.overrideSecretDigest !== undefined) withoutSecretCookie(headers, this.#decision.plan!)
    const { instance, extraHeaders } = this.#decision
    forwardUpgrade(req, socket, head, instance!, headers, extraHeaders, this.options.logger)
  }

  /** Other upgrades (h2c): answered as a plain HTTP/1.1 request on this connection, which then closes. */
  #plainInstead(req: IncomingMessage, socket: Duplex): void {
    if ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined) {
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

/** The override cookie carries the secret (`GROUP:SECRET`): it stops here. */
function withoutSecretCookie(headers: string[], plan: ServicePlan): void {
  if (plan.overrideCookiePrefix !== '') removeCookie(headers, plan.overrideCookiePrefix)
}

/** A JSON error written straight to a socket that node:http no longer serves (upgrade, CONNECT), then closed. */
function answerRaw(socket: Duplex, error: ProxyError, message: string, requestId?: string, extraHeaderLines = ''): void {
  const body = JSON.stringify({ error: { code: error.code, message } })
  const id = (requestId === undefined ? '' : `x-request-id: ${requestId}\r\n`) + extraHeaderLines
  socket.on('error', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\n${id}connection: close\r\n\r\n${body}`,
  )
}
