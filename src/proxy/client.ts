/** What the proxy knows about, and answers to, the client side of a connection. */
import type { IncomingMessage } from 'node:http'
import { BlockList, isIPv6, type Socket } from 'node:net'
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

/** Rewrites an absolute-form target (`GET http://host/path`) to origin form; false if it is neither. */
export function toOriginForm(req: IncomingMessage): boolean {
  const target = req.url!
  if (!/^https?:\/\//i.test(target)) return false
  try {
    const url = new URL(target)
    req.url = `${url.pathname}${url.search}`
    return true
  } catch {
    return false
  }
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
