/**
 * The checks a request passes before it is routed: those of every request (HTTP/1.1, HTTP/2 or a
 * WebSocket handshake), those only HTTP/2 needs, and the answer to a refused request on a socket
 * node:http no longer serves.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { Duplex } from 'node:stream'
import { toOriginForm, validHost } from './client.js'
import type { Refusal } from './decide.js'
import { ProxyErrors, type ProxyError } from './errors.js'

const MAX_TARGET_LENGTH = 8 * 1024
const MAX_HEADER_COUNT = 100
/** node:http's maxHeaderSize, applied to HTTP/2 requests by the proxy itself. */
const MAX_HEADER_BYTES = 16 * 1024

/** The raw header entries (names and values) an HTTP/1.1 request may have. */
export const RAW_HEADER_LIMIT = MAX_HEADER_COUNT * 2

/** The checks every request passes before it is routed; the target loses its fragment here. */
export function checkRequest(req: IncomingMessage, rawHeaderLimit: number): Refusal | undefined {
  let url = req.url!
  if (url.length > MAX_TARGET_LENGTH) return { error: ProxyErrors.uriTooLong, message: `request target longer than ${MAX_TARGET_LENGTH} bytes` }
  const hash = url.indexOf('#')
  // A fragment names a part of a resource for the client; it is never sent (RFC 9110 §4.2.5).
  if (hash >= 0) req.url = url = url.slice(0, hash)
  if (url.charCodeAt(0) !== 47 /* / */ && !toOriginForm(req)) {
    return { error: ProxyErrors.badRequest, message: 'request target must be a path or an absolute http URL with host[:port]' }
  }
  if (req.rawHeaders.length > rawHeaderLimit) return { error: ProxyErrors.headersTooLarge, message: `more than ${MAX_HEADER_COUNT} request headers` }
  const host = req.headers.host
  // HTTP/1.0 may omit Host; when present it must be one authority.
  if ((host !== undefined || req.httpVersionMinor !== 0) && !validHost(host)) return { error: ProxyErrors.badRequest, message: 'Host must be one host[:port]' }
  return undefined
}

/**
 * What makes an HTTP/2 request unservable before the common checks: CONNECT (no path to route),
 * a Host that names another authority than `:authority` (RFC 9113 §8.3.1), headers beyond the
 * size node:http allows HTTP/1.1 requests. Sets `headers.host` from `:authority`.
 */
export function h2Problem(req: Http2ServerRequest): Refusal | undefined {
  if (req.method === 'CONNECT') return { error: ProxyErrors.methodNotAllowed, message: 'CONNECT is not served: this is a reverse proxy' }
  const headers = req.headers
  const authority = headers[':authority']
  if (authority !== undefined) {
    if (headers.host !== undefined && headers.host !== authority) return { error: ProxyErrors.badRequest, message: 'Host differs from :authority' }
    headers.host = authority
  }
  const raw = req.rawHeaders
  let bytes = 0
  for (let i = 0; i < raw.length; i++) bytes += raw[i]!.length
  if (bytes > MAX_HEADER_BYTES) return { error: ProxyErrors.headersTooLarge, message: `request headers larger than ${MAX_HEADER_BYTES} bytes` }
  return undefined
}

/** The raw header entries an HTTP/2 request may have: the HTTP/1.1 limit plus its pseudo-headers. */
export function h2RawHeaderLimit(req: Http2ServerRequest): number {
  const raw = req.rawHeaders
  let limit = RAW_HEADER_LIMIT
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) === 58 /* : */) limit += 2
  return limit
}

/** A JSON error written straight to a socket that node:http no longer serves (upgrade, CONNECT), then closed. */
export function answerRaw(socket: Duplex, error: ProxyError, message: string, requestId?: string, extraHeaderLines = ''): void {
  const body = JSON.stringify({ error: { code: error.code, message } })
  const id = (requestId === undefined ? '' : `x-request-id: ${requestId}\r\n`) + extraHeaderLines
  socket.on('error', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\n${id}connection: close\r\n\r\n${body}`,
  )
}
