import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/**
 * Request headers that never cross the proxy as they came: hop-by-hop (RFC 9110 §7.6.1), `Expect`
 * (we don't relay 100-continue), headers undici refuses, and what says who the client is or which
 * request this is (X-Forwarded-*, Forwarded, X-Real-IP, X-Request-Id): the proxy sets those itself
 * and takes a client's word for them only from a trusted proxy.
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
  'forwarded',
  // An override's secret is for the proxy alone.
  'x-zdd-override-secret',
  'x-real-ip',
  'x-request-id',
])

const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  // HTTP/2 forbids it in a response (and node:http2 would refuse the whole answer).
  'http2-settings',
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
 * [name, value, …] list: hop-by-hop and Connection-named headers dropped, and names with `_` (a
 * backend that folds `_` into `-` would read `X_Forwarded_For` as X-Forwarded-For); Host passed
 * through; X-Forwarded-For/-Proto/-Host set, extended only when the peer is a trusted proxy, whose
 * Forwarded and X-Real-IP pass too; `requestId` as X-Request-Id. Returns undefined for requests
 * with two Host headers.
 */
export function buildUpstreamHeaders(
  req: IncomingMessage,
  peerAddress: string,
  peerTrusted: boolean,
  requestId: string,
  proto: 'http' | 'https',
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
        else if (lower === 'forwarded' || lower === 'x-real-ip') out.push(name, raw[i + 1]!)
      }
      continue
    } else if (lower.includes('_') || (named !== undefined && named.includes(lower))) {
      continue
    }
    out.push(name, raw[i + 1]!)
  }
  return addForwarded(out, peerAddress, priorFor, priorProto ?? proto, priorHost ?? host, requestId)
}

/** The headers the proxy sets itself, after the client's. */
function addForwarded(out: string[], peerAddress: string, priorFor: string | undefined, proto: string, forwardedHost: string, requestId: string): string[] {
  out.push('x-forwarded-for', priorFor === undefined ? peerAddress : `${priorFor}, ${peerAddress}`, 'x-forwarded-proto', proto)
  // An HTTP/1.0 request may come without Host: then there is nothing to say.
  if (forwardedHost !== '') out.push('x-forwarded-host', forwardedHost)
  out.push('x-request-id', requestId)
  return out
}

/**
 * buildUpstreamHeaders for an HTTP/2 request going upstream as HTTP/1.1 (RFC 9113 §8.3.1,
 * §8.2.3): pseudo-headers dropped, `:authority` becomes Host (the listener has put it in
 * `req.headers.host`), and the cookie fields, which HTTP/2 may split, joined into one Cookie
 * header. HTTP/2 has no Connection header, so nothing is named by one; the same headers are
 * dropped and set as for HTTP/1.1.
 */
export function buildUpstreamHeadersFromH2(
  req: IncomingMessage,
  peerAddress: string,
  peerTrusted: boolean,
  requestId: string,
  proto: 'http' | 'https',
): string[] {
  const raw = req.rawHeaders
  const host = req.headers.host ?? ''
  const out: string[] = host === '' ? [] : ['host', host]
  let cookie: string | undefined
  let priorFor: string | undefined
  let priorProto: string | undefined
  let priorHost: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.charCodeAt(0) === 58 /* : */ || name === 'host') continue
    if (name === 'cookie') {
      cookie = cookie === undefined ? raw[i + 1]! : `${cookie}; ${raw[i + 1]!}`
    } else if (DROPPED_REQUEST_HEADERS.has(name)) {
      if (peerTrusted) {
        if (name === 'x-forwarded-for') priorFor = priorFor === undefined ? raw[i + 1] : `${priorFor}, ${raw[i + 1]}`
        else if (name === 'x-forwarded-proto') priorProto ??= raw[i + 1]
        else if (name === 'x-forwarded-host') priorHost ??= raw[i + 1]
        else if (name === 'forwarded' || name === 'x-real-ip') out.push(name, raw[i + 1]!)
      }
    } else if (!name.includes('_')) out.push(name, raw[i + 1]!)
  }
  if (cookie !== undefined) out.push('cookie', cookie)
  return addForwarded(out, peerAddress, priorFor, priorProto ?? proto, priorHost ?? host, requestId)
}

/** The response header naming the group that answered (`exposeGroupHeader`). */
export const GROUP_HEADER = 'x-zdd-group'

/**
 * Response headers for the client as a flat list for `writeHead`: hop-by-hop and Connection-named
 * headers dropped, repeated headers (Set-Cookie) kept apart. `extra` is appended as is. With
 * `privateCache` (the answer sets a new client's sticky cookie) a shared cache must not keep it, or
 * every client it serves would get that one id: `Cache-Control` gains `private` unless it already
 * says `private` or `no-store` (HAProxy's `cookie … nocache`).
 */
export function buildResponseHeaders(headers: IncomingHttpHeaders, extra: readonly string[] | undefined, privateCache = false, group?: string): string[] {
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
  if (group !== undefined) out.push(GROUP_HEADER, group)
  if (privateCache) markPrivate(out)
  return out
}

function markPrivate(out: string[]): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] !== 'cache-control') continue
    const value = out[i + 1]!
    if (!/\b(?:private|no-store)\b/i.test(value)) out[i + 1] = `${value}, private`
    return
  }
  out.push('cache-control', 'private')
}

/** The value of cookie `name` in a Cookie header, or undefined. `prefix` is `name=`. */
/**
 * Removes the cookie `prefix` (`name=`) from the Cookie headers of a flat header list, dropping a
 * header left empty. For the override cookie when it carries a secret, which the backend must not see.
 */
export function removeCookie(headers: string[], prefix: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.toLowerCase() !== 'cookie' || !headers[i + 1]!.includes(prefix)) continue
    const kept = headers[i + 1]!.split(';').filter((pair) => !pair.trimStart().startsWith(prefix))
    if (kept.length === 0) headers.splice(i, 2)
    else headers[i + 1] = kept.map((pair) => pair.trim()).join('; ')
  }
}

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
