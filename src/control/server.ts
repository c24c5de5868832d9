import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isLoopbackHost } from '../config/addresses.js'
import type { Logger } from '../support/log.js'
import { HttpError, sendError } from './http-errors.js'
import { ROUTES, type AdminContext } from './routes.js'

/** Bodies above this are refused with 413 without being read further. */
export const MAX_BODY_BYTES = 64 * 1024

export interface AdminServerOptions {
  readonly host: string
  readonly port: number
  /** Bearer token required on every mutation; absent only on loopback. */
  readonly token?: string
  /** Bearer token reads need (the mutation token works too); absent: reads are open. */
  readonly readToken?: string
  readonly context: AdminContext
  readonly logger: Logger
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** Hostname of a Host header: `[::1]:9090` → `::1`, `localhost:9090` → `localhost`. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'))
  const colon = host.indexOf(':')
  return colon < 0 ? host : host.slice(0, colon)
}

/**
 * Reads that need no read token: the probes an orchestrator sends (they reveal only readiness) and
 * the dashboard's static files (the page then asks for the token to read the API).
 */
function openToRead(path: string): boolean {
  return path === '/healthz' || path === '/readyz' || path === '/' || path === '/ui' || path.startsWith('/ui/')
}

/**
 * The admin listener: JSON in and out, one error shape. Mutations need the Bearer token
 * (compared in constant time), `Content-Type: application/json` and, when the browser sends an
 * Origin, the same origin, so a web page cannot change weights through a user's browser.
 * Reads need `readToken` (or the token) when one is set. Without any token, every request must
 * name a loopback Host, so a DNS-rebinding page cannot read or change anything.
 */
export class AdminServer {
  readonly server: Server
  #tokenDigest: Buffer | undefined
  #readTokenDigest: Buffer | undefined

  constructor(readonly options: AdminServerOptions) {
    this.setTokens(options.token, options.readToken)
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      void this.#handle(req, res)
    })
    this.server.keepAliveTimeout = 5_000
  }

  /** A reload's tokens: the next request is checked against them. */
  setTokens(token: string | undefined, readToken: string | undefined): void {
    this.#tokenDigest = token === undefined ? undefined : digest(token)
    this.#readTokenDigest = readToken === undefined ? undefined : digest(readToken)
  }

  /** Binds and returns the port. Refuses a non-loopback address without a token. */
  async listen(): Promise<number> {
    const { host, port, token } = this.options
    if (token === undefined && !isLoopbackHost(host)) {
      throw new Error(`admin: refusing to listen on ${host} without admin.token (only loopback addresses may go without one)`)
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    return (this.server.address() as AddressInfo).port
  }

  /** Ends event streams and closes the listener. */
  async close(): Promise<void> {
    this.options.context.events.closeAll()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeIdleConnections()
    })
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let mutation = false
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid')
      const route = ROUTES.find((candidate) => candidate.pattern.test(url.pathname))
      if (route === undefined) throw new HttpError('not_found', `no such endpoint: ${url.pathname}`)
      const method = req.method === 'HEAD' && route.methods.GET !== undefined ? 'GET' : req.method!
      const entry = route.methods[method]
      if (entry === undefined) {
        const allow = Object.keys(route.methods).join(', ')
        throw new HttpError('method_not_allowed', `${req.method} is not allowed on ${url.pathname} (allowed: ${allow})`, { allow })
      }
      mutation = entry.mutation
      if (!mutation && !openToRead(url.pathname)) this.#checkReader(req)
      const params = (route.pattern.exec(url.pathname) ?? []).slice(1).map(decodeParam)
      let body: Record<string, unknown> = {}
      let ifMatch: number | undefined
      if (mutation) {
        this.#checkCaller(req)
        body = await readJsonBody(req)
        ifMatch = parseIfMatch(req.headers['if-match'])
      }
      await entry.handler(this.options.context, { req, res, url, params, body, ifMatch })
    } catch (error) {
      const failure = error instanceof HttpError ? error : internalError(error, this.options.logger)
      if (mutation) {
        this.options.logger.info(
          { event: 'admin_refused', method: req.method, path: req.url, status: failure.status, code: failure.code },
          `admin ${req.method} ${req.url} refused: ${failure.message}`,
        )
      }
      // A body we stopped reading must not be taken for the next request on this connection.
      sendError(res, failure, failure.code === 'body_too_large' ? { connection: 'close' } : {})
    }
  }

  /** The read token (or the mutation token) when a read token is set; the Host rule without any token. */
  #checkReader(req: IncomingMessage): void {
    if (this.#readTokenDigest !== undefined) {
      const presented = bearerDigest(req)
      const accepted =
        presented !== undefined &&
        (timingSafeEqual(presented, this.#readTokenDigest) ||
          (this.#tokenDigest !== undefined && timingSafeEqual(presented, this.#tokenDigest)))
      if (!accepted) throw unauthorized('a valid "Authorization: Bearer <readToken>" header is required to read')
    } else if (this.#tokenDigest === undefined) {
      this.#checkHost(req)
    }
  }

  /** Token, then origin, then content type: who may mutate and from where. */
  #checkCaller(req: IncomingMessage): void {
    if (this.#tokenDigest !== undefined) {
      const presented = bearerDigest(req)
      if (presented === undefined || !timingSafeEqual(presented, this.#tokenDigest)) {
        throw unauthorized('a valid "Authorization: Bearer <token>" header is required')
      }
    } else {
      this.#checkHost(req)
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      let same = false
      try {
        const parsed = new URL(origin)
        same = parsed.protocol === 'http:' && parsed.host === req.headers.host
      } catch {
        same = false
      }
      if (!same) throw new HttpError('forbidden_origin', `cross-site request from Origin ${origin} refused`)
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json') {
      throw new HttpError('unsupported_media_type', 'mutations take a JSON body: send Content-Type: application/json')
    }
  }

  /** Without a token, a DNS-rebinding page could reach a loopback listener under its own name. */
  #checkHost(req: IncomingMessage): void {
    const host = hostnameOf(req.headers.host ?? '')
    if (!isLoopbackHost(host) && host !== this.options.host) {
      throw new HttpError('forbidden_host', `Host "${host}" is not a loopback name; set admin.token to allow other names`)
    }
  }
}

/** SHA-256 of the Bearer credential, so comparisons take the same time whatever its length. */
function bearerDigest(req: IncomingMessage): Buffer | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')
  return match === null ? undefined : digest(match[1]!)
}

function unauthorized(message: string): HttpError {
  return new HttpError('unauthorized', message, { 'www-authenticate': 'Bearer realm="zdd-proxy"' })
}

function decodeParam(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpError('not_found', `bad path segment: ${segment}`)
  }
}

/** Reads at most MAX_BODY_BYTES; stops reading and answers 413 beyond that. Empty body → `{}`. */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const tooLarge = () => new HttpError('body_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`)
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw tooLarge()
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const received: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) {
        received.push(chunk)
        return
      }
      // Stop reading (not destroy: the 413 still has to go out on this socket).
      req.off('data', onData)
      req.off('end', onEnd)
      req.pause()
      reject(tooLarge())
    }
    const onEnd = () => resolve(received)
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', reject)
  })
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new HttpError('invalid_json', `body is not valid JSON: ${(error as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError('invalid_body', 'body must be a JSON object')
  }
  return value as Record<string, unknown>
}

/** `If-Match: 12`, `"12"` or `W/"12"` → 12; `*` or absent → undefined (no condition). */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header)
  if (match === null) throw new HttpError('invalid_if_match', `If-Match must be a revision number, got ${JSON.stringify(header.slice(0, 40))}`)
  return Number(match[1])
}

function internalError(error: unknown, logger: Logger): HttpError {
  logger.error({ event: 'admin_error', err: error }, 'admin request failed')
  return new HttpError('internal', 'internal error (see the proxy log)')
}
