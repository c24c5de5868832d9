/** What the proxy knows about, and answers to, the client side of a connection. */
import type { IncomingMessage } from 'node:http'
import { BlockList, isIP, isIPv6, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** A BlockList of trusted proxy addresses and CIDRs, or undefined when none are configured. */
export function trustList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined
  const list = new BlockList()
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined]
    const type = isIPv6(address) ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(prefix), type)
  }
  return list
}

/** Whether `peer` is a trusted proxy whose X-Forwarded-* headers are extended. */
export function isTrusted(list: BlockList | undefined, peer: string): boolean {
  return list !== undefined && list.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4')
}

/**
 * An absolute-form target (`GET http://host/path`) becomes origin form (the path and query as sent,
 * not normalised), and its authority replaces Host, as RFC 9112 §3.2.2 says: the proxy routes and
 * forwards by what the target names. False when the target is neither form or the authority is not
 * a plain `host[:port]` (no userinfo).
 */
export function toOriginForm(req: IncomingMessage): boolean {
  const target = req.url!
  const scheme = /^https?:\/\//i.exec(target)
  if (scheme === null) return false
  const start = scheme[0].length
  let end = start
  while (end < target.length && target[end] !== '/' && target[end] !== '?') end++
  const authority = target.slice(start, end)
  if (!validHost(authority)) return false
  const rest = target.slice(end)
  req.url = rest.startsWith('/') ? rest : `/${rest}`
  const raw = req.rawHeaders
  let found = false
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'host') {
      raw[i + 1] = authority
      found = true
    }
  }
  if (!found) raw.push('Host', authority)
  req.headers.host = authority
  return true
}

/**
 * Whether a Host value is one authority, `host[:port]`: a name of letters, digits, `-`, `.`, `_`
 * or `~`, or an IPv6 address in brackets; not empty, no list, spaces or userinfo.
 */
export function validHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return false
  let i = 0
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']')
    if (close < 0 || !isIPv6(host.slice(1, close))) return false
    i = close + 1
  } else {
    while (i < host.length && isNameChar(host.charCodeAt(i))) i++
    if (i === 0) return false
  }
  if (i === host.length) return true
  if (host.charCodeAt(i) !== 58 /* : */ || i + 1 === host.length || host.length - i - 1 > 5) return false
  for (let j = i + 1; j < host.length; j++) if (host.charCodeAt(j) < 48 || host.charCodeAt(j) > 57) return false
  return Number(host.slice(i + 1)) <= 65535
}

function isNameChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 45 || code === 46 || code === 95 || code === 126
  )
}

/**
 * The client's address for stickiness by IP: the peer, or, when the peer is a trusted proxy, the
 * nearest address in X-Forwarded-For that is not a trusted proxy (as the npm package proxy-addr
 * walks the chain from the right).
 */
export function clientAddressOf(req: IncomingMessage, peer: string, trust: BlockList | undefined): string {
  if (!isTrusted(trust, peer)) return peer
  const chain = req.headers['x-forwarded-for']
  if (typeof chain !== 'string') return peer
  const hops = chain.split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim()
    if (hop === '') continue
    if (isIP(hop) === 0 || !isTrusted(trust, hop)) return hop
  }
  return peer
}

/** The client's address, IPv4-mapped IPv6 shown as plain IPv4. */
export function peerAddressOf(socket: Socket): string {
  const address = socket.remoteAddress ?? ''
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

/** Answers a request Node's parser refused (431, 414, 408, 400) and closes the connection. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (socket as Socket).bytesWritten > 0) {
    socket.destroy()
    return
  }
  let status = '400 Bad Request'
  if (error.code === 'HPE_HEADER_OVERFLOW') status = '431 Request Header Fields Too Large'
  else if (error.code === 'HPE_URI_TOO_LONG') status = '414 URI Too Long'
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = '408 Request Timeout'
  const body = JSON.stringify({ error: { code: 'bad_request', message: status.slice(4) } })
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  )
}
