/** Syntax checks for the addresses a config names (listen hosts, instances, DNS servers, CIDRs); pure. */

import { BlockList, isIP, isIPv4 } from 'node:net'

// Labels allow `_` because SRV names (`_simpleservice._tcp.marathon.mesos`) need it.
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/

/** A DNS name such as `backend-1.example.com` or `_http._tcp.svc.`; a trailing dot is allowed. */
export function isHostName(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value
  if (name.length === 0 || name.length > 253) return false
  return name.split('.').every((label) => LABEL.test(label))
}

/** A host and port split out of `host:port` or `[v6]:port`; `port` is undefined when absent. */
export interface HostPort {
  readonly host: string
  readonly port: number | undefined
}

/**
 * Splits `host:port`, `[v6]:port`, `host`, `[v6]` or a bare IPv6 address. Returns a problem text
 * instead when the syntax is wrong; the host itself is checked by the caller.
 */
export function splitHostPort(value: string): HostPort | string {
  let host: string
  let portText: string | undefined
  if (value.startsWith('[')) {
    const close = value.indexOf(']')
    if (close < 0) return 'missing "]" after the IPv6 address'
    host = value.slice(1, close)
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`
    const rest = value.slice(close + 1)
    if (rest !== '' && !rest.startsWith(':')) return 'expected ":port" after "]"'
    portText = rest === '' ? undefined : rest.slice(1)
  } else if (isIP(value) === 6) {
    return { host: value, port: undefined }
  } else {
    const colon = value.lastIndexOf(':')
    if (colon >= 0 && value.indexOf(':') !== colon) return 'IPv6 addresses must be written as [addr]:port'
    host = colon < 0 ? value : value.slice(0, colon)
    portText = colon < 0 ? undefined : value.slice(colon + 1)
  }
  if (portText === undefined) return { host, port: undefined }
  if (!/^\d{1,5}$/.test(portText)) return `port "${portText}" is not a number`
  const port = Number(portText)
  if (port < 1 || port > 65535) return `port ${port} is out of range 1..65535`
  return { host, port }
}

/** Checks an instance's `host:port` (IPv6 as `[::1]:9000`); returns a problem text or undefined. */
export function checkInstanceAddress(value: string): string | undefined {
  const parts = splitHostPort(value)
  if (typeof parts === 'string') return parts
  if (parts.port === undefined) return 'must be host:port (IPv6 as [addr]:port)'
  if (isIP(parts.host) === 0 && !isHostName(parts.host)) return `"${parts.host}" is not a host name or IP address`
  return undefined
}

/**
 * Normalises a DNS server entry to `ip:port` (`[v6]:port`), port 53 when absent. Only IP
 * addresses are allowed: resolving the resolver's own name would need a resolver.
 */
export function normaliseDnsServer(value: string): string | { problem: string } {
  const parts = splitHostPort(value)
  if (typeof parts === 'string') return { problem: parts }
  const family = isIP(parts.host)
  if (family === 0) return { problem: `"${parts.host}" is not an IP address` }
  const port = parts.port ?? 53
  return family === 6 ? `[${parts.host}]:${port}` : `${parts.host}:${port}`
}

/** An IP address or `localhost`, as listeners accept. */
export function isListenHost(value: string): boolean {
  return value === 'localhost' || isIP(value) !== 0
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** True for `localhost`, 127.0.0.0/8 and ::1 (also IPv4-mapped ::ffff:127.x). */
export function isLoopbackHost(value: string): boolean {
  if (value === 'localhost') return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value)
  const address = mapped ? mapped[1]! : value
  const family = isIP(address)
  if (family === 0) return false
  return loopback.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** Checks an IP address or CIDR (`10.0.0.0/8`, `fd00::/8`); returns a problem text or undefined. */
export function checkAddressOrCidr(value: string): string | undefined {
  const slash = value.indexOf('/')
  const address = slash < 0 ? value : value.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return `"${address}" is not an IP address`
  if (slash < 0) return undefined
  const prefixText = value.slice(slash + 1)
  const max = isIPv4(address) ? 32 : 128
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `prefix length "${prefixText}" must be an integer 0..${max}`
  }
  try {
    // The same check trusted-proxy matching will use later.
    new BlockList().addSubnet(address, Number(prefixText), family === 4 ? 'ipv4' : 'ipv6')
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  return undefined
}
