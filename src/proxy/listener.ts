import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { BlockList, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ServiceConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import { pickInstance } from '../routing/pick.js'
import { hashString } from '../routing/rendezvous.js'
import { chooseGroup } from '../routing/select.js'
import type { GroupRoute, RouteTable } from '../routing/types.js'
import type { SnapshotSource } from '../routing/snapshot.js'
import { answerClientError, isTrusted, peerAddressOf, toOriginForm, trustList } from './client.js'
import { ProxyErrors, sendError, type FailureKind } from './errors.js'
import { abortExchangesOf, CURRENT_EXCHANGE, Exchange, type ClientSocket } from './forward.js'
import { buildUpstreamHeaders, readCookie } from './headers.js'
import { forwardUpgrade } from './upgrade.js'
import type { GroupStats, StatsRegistry } from '../upstream/stats.js'
import type { Upstream } from '../upstream/pools.js'

const MAX_TARGET_LENGTH = 8 * 1024
const MAX_HEADER_COUNT = 100
const TWO_POW_53 = 9007199254740992

/** base64url: cookie-safe (RFC 6265 cookie-octet) and URL-safe. */
const ID_CHARS = Uint8Array.from('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_', (char) => char.charCodeAt(0))
const TWO_POW_30 = 1073741824

/**
 * A new client's sticky id: 60 random bits as 10 base64url characters. The id is a routing key,
 * not a secret (a client may send any id it likes), so V8's fast per-isolate generator will do.
 * Built with one fromCharCode call: crypto.randomUUID cost ~1 % CPU per new client and made each
 * Set-Cookie 26 bytes longer, and Number#toString(36) takes ~0.9 µs (bench --micro).
 */
export function newClientId(): string {
  const high = (Math.random() * TWO_POW_30) | 0
  const low = (Math.random() * TWO_POW_30) | 0
  return String.fromCharCode(
    ID_CHARS[high & 63]!,
    ID_CHARS[(high >>> 6) & 63]!,
    ID_CHARS[(high >>> 12) & 63]!,
    ID_CHARS[(high >>> 18) & 63]!,
    ID_CHARS[(high >>> 24) & 63]!,
    ID_CHARS[low & 63]!,
    ID_CHARS[(low >>> 6) & 63]!,
    ID_CHARS[(low >>> 12) & 63]!,
    ID_CHARS[(low >>> 18) & 63]!,
    ID_CHARS[(low >>> 24) & 63]!,
  )
}

const STICKY_COOKIE_MAX_AGE = 365 * 24 * 3600

/** Per-service request constants, worked out once (config is fixed for a listener's life). */
interface ServicePlan {
  readonly name: string
  readonly stickyBy: ServiceConfig['sticky']['by']
  readonly stickyCookiePrefix: string
  /** What follows the id in a new client's Set-Cookie value. */
  readonly stickyCookieAttributes: string
  readonly stickyCookieName: string
  readonly stickyHeader: string
  readonly overrideHeader: string
  readonly overrideCookiePrefix: string
  readonly exposeGroupHeader: boolean
  readonly retries: number
  readonly stats: ReadonlyMap<string, GroupStats>
}

/** Reports an attempt that failed; the data plane decides nothing from it. */
export type FailureReporter = (
  upstream: Upstream,
  group: string,
  kind: FailureKind,
  error: Error,
) => void

export interface ListenerOptions {
  readonly host: string
  readonly port: number
  /** Services on this address; more than one means every one declares vhosts. */
  readonly services: readonly ServiceConfig[]
  readonly table: SnapshotSource<RouteTable<Upstream>>
  readonly trustedProxies: readonly string[]
  readonly stats: StatsRegistry
  readonly logger: Logger
  readonly onFailure?: FailureReporter
}

function planFor(config: ServiceConfig, stats: StatsRegistry): ServicePlan {
  return {
    name: config.name,
    stickyBy: config.sticky.by,
    stickyCookiePrefix: `${config.sticky.cookie}=`,
    stickyCookieAttributes: `; Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax`,
    stickyCookieName: config.sticky.cookie,
    stickyHeader: config.sticky.header.toLowerCase(),
    overrideHeader: config.override.header.toLowerCase(),
    overrideCookiePrefix: config.override.cookie === '' ? '' : `${config.override.cookie}=`,
    exposeGroupHeader: config.exposeGroupHeader,
    retries: config.retries,
    stats: stats.forService(config.name),
  }
}

/**
 * The routing decision for one request. One per listener, overwritten by every request: it is
 * read right after #decide returns, before anything else can run, so no request allocates one.
 */
interface Decision {
  plan: ServicePlan | undefined
  group: GroupRoute<Upstream> | undefined
  upstream: Upstream | undefined
  extraHeaders: string[] | undefined
}

/**
 * One proxy listener: node:http server with sane limits, routing each request through the current
 * snapshot (service by vhost → group → instance) and forwarding it with an Exchange.
 */
export class ProxyListener {
  readonly server: Server
  readonly #plans: Map<string, ServicePlan>
  readonly #single: ServicePlan | undefined
  readonly #vhosts = new Map<string, ServicePlan>()
  readonly #trusted: BlockList | undefined
  readonly #decision: Decision = { plan: undefined, group: undefined, upstream: undefined, extraHeaders: undefined }
  readonly #onFailure: (exchange: Exchange, upstream: Upstream, kind: FailureKind, error: Error) => void

  constructor(readonly options: ListenerOptions) {
    this.#plans = new Map(options.services.map((config) => [config.name, planFor(config, options.stats)]))
    this.#single = options.services.length === 1 ? this.#plans.get(options.services[0]!.name) : undefined
    for (const config of options.services) {
      for (const vhost of config.vhosts) this.#vhosts.set(vhost.toLowerCase(), this.#plans.get(config.name)!)
    }
    this.#trusted = trustList(options.trustedProxies)
    const report = options.onFailure
    const logger = options.logger
    this.#onFailure = (exchange, upstream, kind, error) => {
      logger.warn(
        {
          event: 'upstream_failure',
          service: upstream.serviceName,
          group: exchange.group.name,
          instance: upstream.key,
          kind,
          err: error.message,
        },
        'upstream request failed',
      )
      report?.(upstream, exchange.group.name, kind, error)
    }
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
    this.server.on('connection', (socket: ClientSocket) => {
      socket[CURRENT_EXCHANGE] = null
      socket.once('close', abortExchangesOf)
    })
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head))
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

  /** Routes a request into #decision; on failure it has already answered and returns false. */
  #decide(req: IncomingMessage, res: ServerResponse): boolean {
    const plan = this.#planFor(req)
    if (plan === undefined) {
      sendError(res, ProxyErrors.unknownHost, `no service for host ${req.headers.host ?? ''}`)
      return false
    }
    const service = this.options.table.current.servicesByName.get(plan.name)
    if (service === undefined) {
      sendError(res, ProxyErrors.noLiveInstance, `service ${plan.name} has no live instance`)
      return false
    }
    let extraHeaders: string[] | undefined
    let keyHash: number
    switch (plan.stickyBy) {
      case 'cookie': {
        const id = readCookie(req.headers.cookie, plan.stickyCookiePrefix)
        if (id !== undefined && id !== '') {
          keyHash = hashString(id)
        } else {
          const fresh = newClientId()
          keyHash = hashString(fresh)
          extraHeaders = ['set-cookie', plan.stickyCookiePrefix + fresh + plan.stickyCookieAttributes]
        }
        break
      }
      case 'header': {
        const id = req.headers[plan.stickyHeader]
        keyHash = typeof id === 'string' && id !== '' ? hashString(id) : Math.random() * TWO_POW_53
        break
      }
      case 'ip':
        keyHash = hashString(peerAddressOf(req.socket))
        break
      default:
        keyHash = Math.random() * TWO_POW_53
    }
    let overrideName: string | undefined
    if (plan.overrideHeader !== '') {
      const forced = req.headers[plan.overrideHeader]
      if (typeof forced === 'string') overrideName = forced
    }
    if (overrideName === undefined && plan.overrideCookiePrefix !== '') {
      overrideName = readCookie(req.headers.cookie, plan.overrideCookiePrefix)
    }
    const group = chooseGroup(service, overrideName, keyHash)
    const upstream = group === undefined ? undefined : pickInstance(group.instances, Math.random)
    if (group === undefined || upstream === undefined) {
      sendError(res, ProxyErrors.noLiveInstance, `service ${plan.name} has no live instance`)
      return false
    }
    if (plan.exposeGroupHeader) {
      if (extraHeaders === undefined) extraHeaders = ['x-zdd-group', group.name]
      else extraHeaders.push('x-zdd-group', group.name)
    }
    const decision = this.#decision
    decision.plan = plan
    decision.group = group
    decision.upstream = upstream
    decision.extraHeaders = extraHeaders
    return true
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url!.length > MAX_TARGET_LENGTH) {
      sendError(res, ProxyErrors.uriTooLong, `request target longer than ${MAX_TARGET_LENGTH} bytes`)
      return
    }
    if (req.url!.charCodeAt(0) !== 47 /* / */ && !toOriginForm(req)) {
      sendError(res, ProxyErrors.badRequest, 'request target must be a path or an absolute http URL')
      return
    }
    if (req.rawHeaders.length > MAX_HEADER_COUNT * 2) {
      sendError(res, ProxyErrors.headersTooLarge, `more than ${MAX_HEADER_COUNT} request headers`)
      return
    }
    if (!this.#decide(req, res)) return
    const { plan, group, upstream, extraHeaders } = this.#decision
    const peer = peerAddressOf(req.socket)
    const headers = buildUpstreamHeaders(req, peer, isTrusted(this.#trusted, peer))
    if (headers === undefined) {
      sendError(res, ProxyErrors.badRequest, 'more than one Host header')
      return
    }
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
    const exchange = new Exchange(req, res, group!, headers, extraHeaders, hasBody, plan!.retries, plan!.stats.get(group!.name)!, this.#onFailure)
    exchange.start(upstream!)
  }

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const protocol = (req.headers.upgrade ?? '').toLowerCase()
    if (protocol === 'websocket') {
      const res = new ServerResponse(req)
      res.assignSocket(socket as Socket)
      if (!this.#decide(req, res)) {
        res.shouldKeepAlive = false
        return
      }
      const { upstream, extraHeaders } = this.#decision
      res.detachSocket(socket as Socket)
      const peer = peerAddressOf(req.socket)
      const headers = buildUpstreamHeaders(req, peer, isTrusted(this.#trusted, peer))
      if (headers === undefined) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
        return
      }
      forwardUpgrade(req, socket, head, upstream!, headers, extraHeaders, this.options.logger)
      return
    }
    // Other upgrades (h2c): answer as a plain HTTP/1.1 request on this connection, then close it.
    if ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
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

  /** Stops accepting; in-flight requests finish; idle keep-alive connections close now. */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    // Keep-alive connections become idle one by one as their last response ends; close each then.
    this.server.closeIdleConnections()
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50)
    const deadline = setTimeout(() => this.server.closeAllConnections(), graceMs)
    sweep.unref()
    deadline.unref()
    await closed
    clearInterval(sweep)
    clearTimeout(deadline)
  }
}
