import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { BlockList, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { pickInstance } from '../routing/pick.js'
import { hashString } from '../routing/rendezvous.js'
import { chooseGroup, homeGroup } from '../routing/select.js'
import type { SnapshotSource } from '../routing/snapshot.js'
import type { GroupRoute, RouteTable, ServiceRoute } from '../routing/types.js'
import type { Logger } from '../support/log.js'
import type { Instance } from '../upstream/instance.js'
import { answerClientError, isTrusted, peerAddressOf, toOriginForm, trustList } from './client.js'
import { newClientId } from './client-id.js'
import { ProxyErrors, sendError } from './errors.js'
import { Exchange, type Route } from './forward.js'
import { buildUpstreamHeaders, readCookie } from './headers.js'
import { countRedispatch } from './next-attempt.js'
import type { ServicePlan } from './plan.js'
import { followConnection } from './turns.js'
import { forwardUpgrade } from './upgrade.js'

const MAX_TARGET_LENGTH = 8 * 1024
const MAX_HEADER_COUNT = 100
const TWO_POW_53 = 9007199254740992

export interface ListenerOptions {
  readonly host: string
  readonly port: number
  /** Plans of the services on this address; more than one means every one declares vhosts. */
  readonly plans: readonly ServicePlan[]
  readonly table: SnapshotSource<RouteTable<Instance>>
  readonly trustedProxies: readonly string[]
  readonly logger: Logger
}

/**
 * The routing decision for one request. One per listener, overwritten by every request: it is
 * read right after #decide returns, before anything else can run, so no request allocates one.
 */
interface Decision {
  plan: ServicePlan | undefined
  service: ServiceRoute<Instance> | undefined
  group: GroupRoute<Instance> | undefined
  instance: Instance | undefined
  keyHash: number
  extraHeaders: string[] | undefined
}

/**
 * One proxy listener: node:http server with sane limits, routing each request through the current
 * snapshot (service by vhost → group → instance) and forwarding it with an Exchange.
 */
export class ProxyListener {
  readonly server: Server
  readonly #single: ServicePlan | undefined
  readonly #vhosts = new Map<string, ServicePlan>()
  readonly #trusted: BlockList | undefined
  readonly #decision: Decision = { plan: undefined, service: undefined, group: undefined, instance: undefined, keyHash: 0, extraHeaders: undefined }

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
    this.server.on('connection', followConnection)
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
    const instance = group === undefined ? undefined : pickInstance(group.instances, Math.random)
    if (group === undefined || instance === undefined) {
      sendError(res, ProxyErrors.noLiveInstance, `service ${plan.name} has no live instance`)
      return false
    }
    // Some group with a weight has no live instance: was it this key's? (Skipped while all are up.)
    if (service.weighted.length !== service.candidates.length && group.name !== overrideName) {
      const home = homeGroup(service, keyHash)
      if (home !== undefined && home !== group && home.instances.length === 0) {
        if (!plan.redispatch) {
          sendError(res, ProxyErrors.noLiveInstance, `group ${home.name} of service ${plan.name} has no live instance`)
          return false
        }
        countRedispatch(plan, home.name, group.name)
      }
    }
    if (plan.exposeGroupHeader) {
      if (extraHeaders === undefined) extraHeaders = ['x-zdd-group', group.name]
      else extraHeaders.push('x-zdd-group', group.name)
    }
    const decision = this.#decision
    decision.plan = plan
    decision.service = service
    decision.group = group
    decision.instance = instance
    decision.keyHash = keyHash
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
    const peer = peerAddressOf(req.socket)
    const headers = buildUpstreamHeaders(req, peer, isTrusted(this.#trusted, peer))
    if (headers === undefined) {
      sendError(res, ProxyErrors.badRequest, 'more than one Host header')
      return
    }
    // The decision is complete here (#decide returned true): its fields are all set.
    new Exchange(req, res, this.#decision as Route, headers).start()
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
      const { instance, extraHeaders } = this.#decision
      res.detachSocket(socket as Socket)
      const peer = peerAddressOf(req.socket)
      const headers = buildUpstreamHeaders(req, peer, isTrusted(this.#trusted, peer))
      if (headers === undefined) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
        return
      }
      forwardUpgrade(req, socket, head, instance!, headers, extraHeaders, this.options.logger)
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
}
