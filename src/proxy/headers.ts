import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/**
 * Request headers that never cross the proxy: hop-by-hop (RFC 9110 §7.6.1), `Expect` (we don't
 * relay 100-continue), the X-Forwarded-* we set ourselves, and headers undici refuses.
 */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
])

const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Header names listed in a Connection header, lower-cased; undefined when there are none to drop. */
export function connectionTokens(connection: string | undefined): string[] | undefined {
  if (connection === undefined || connection === 'keep-alive') return undefined
  const lower = connection.toLowerCase()
  if (lower === 'keep-alive' || lower === 'close') return undefined
  const tokens: string[] = []
  for (const part of lower.split(',')) {
    const token = part.trim()
    if (token !== '' && token !== 'keep-alive' && token !== 'close') tokens.push(token)
  }
  return tokens.length > 0 ? tokens : undefined
}

/**
 * Builds the upstream request headers in one pass over the raw headers, as a flat
 * [name, value, …] list: hop-by-hop and Connection-named headers dropped, Host passed through,
 * X-Forwarded-For/-Proto/-Host set (extended only when the peer is a trusted proxy).
 * Returns undefined for requests with two Host headers.
 */
export function buildUpstreamHeaders(
  req: IncomingMessage,
  peerAddress: string,
  peerTrusted: boolean,
): string[] | undefined {
  const raw = req.rawHeaders
  const named = connectionTokens(req.headers.connection)
  const out: string[] = []
  let hostSeen = false
  let host = ''
  let priorFor: string | undefined
  let priorProto: string | undefined
  let priorHost: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (lower === 'host') {
      if (hostSeen) return undefined
      hostSeen = true
      host = raw[i + 1]!
    } else if (DROPPED_REQUEST_HEADERS.has(lower)) {
      if (peerTrusted) {
        if (lower === 'x-forwarded-for') priorFor = priorFor === undefined ? raw[i + 1] : `${priorFor}, ${raw[i + 1]}`
        else if (lower === 'x-forwarded-proto') priorProto ??= raw[i + 1]
        else if (lower === 'x-forwarded-host') priorHost ??= raw[i + 1]
      }
      continue
    } else if (named !== undefined && named.includes(lower)) {
      continue
    }
    out.push(name, raw[i + 1]!)
  }
  out.push(
    'x-forwarded-for',
    priorFor === undefined ? peerAddress : `${priorFor}, ${peerAddress}`,
    'x-forwarded-proto',
    priorProto ?? 'http',
    'x-forwarded-host',
    priorHost ?? host,
  )
  return out
}

/**
 * Response headers for the client as a flat list for `writeHead`: hop-by-hop and Connection-named
 * headers dropped, repeated headers (Set-Cookie) kept apart. `extra` is appended as is.
 */
export function buildResponseHeaders(headers: IncomingHttpHeaders, extra: readonly string[] | undefined): string[] {
  // undici hands a repeated header over as an array, Connection included.
  const connection: string | string[] | undefined = headers.connection
  const named = connectionTokens(Array.isArray(connection) ? connection.join(',') : connection)
  const out: string[] = []
  for (const name in headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue
    if (named !== undefined && named.includes(name)) continue
    const value = headers[name]
    if (value === undefined) continue
    if (typeof value === 'string') out.push(name, value)
    else for (let i = 0; i < value.length; i++) out.push(name, value[i]!)
  }
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) out.push(extra[i]!)
  return out
}

/** The value of cookie `name` in a Cookie header, or undefined. `prefix` is `name=`. */
export function readCookie(cookieHeader: string | undefined, prefix: string): string | undefined {
  if (cookieHeader === undefined) return undefined
  let from = 0
  for (;;) {
    const at = cookieHeader.indexOf(prefix, from)
    if (at < 0) return undefined
    if (at === 0 || cookieHeader.charCodeAt(at - 1) === 32 || cookieHeader.charCodeAt(at - 1) === 59) {
      const start = at + prefix.length
      const end = cookieHeader.indexOf(';', start)
      const value = end < 0 ? cookieHeader.slice(start) : cookieHeader.slice(start, end)
      return value.trim()
    }
    from = at + 1
  }
}
