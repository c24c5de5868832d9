import { tornadoJsonEncode } from './python-json.js'

/** Tornado's default error page, byte for byte. */
export function tornadoErrorPage(status: number, reason: string): string {
  return `<html><title>${status}: ${reason}</title><body>${status}: ${reason}</body></html>`
}

export const NOT_FOUND_PAGE = tornadoErrorPage(404, 'Not Found')
export const METHOD_NOT_ALLOWED_PAGE = tornadoErrorPage(405, 'Method Not Allowed')
export const HEALTHY_BODY = tornadoJsonEncode({ healthy: true })

export function endpoint0Body(host: string, version: string): string {
  return tornadoJsonEncode({ host, version, result: 'all is well' })
}

/** What a `/endpoint0` answered 500 by `FAIL_RATE` says; shaped like the success so scripts can read `version`. */
export function injectedFailureBody(host: string, version: string): string {
  return tornadoJsonEncode({ host, version, result: 'injected failure' })
}

export function infoBody(host: string, version: string, from: string): string {
  return tornadoJsonEncode({ host, version, from })
}

export function envBody(version: string, env: Readonly<Record<string, string | undefined>>): string {
  const copy: Record<string, string> = {}
  for (const key of Object.keys(env)) {
    const value = env[key]
    if (value !== undefined) copy[key] = value
  }
  return tornadoJsonEncode({ version, env: copy })
}

/**
 * The `/health` delay for one request: a random integer in [min, max) ms when max > min >= 0,
 * else 0, like the original's `random.randrange(HEALTH_MIN, HEALTH_MAX)`. `random` is in [0, 1).
 */
export function drawHealthDelay(minMs: number, maxMs: number, random: () => number): number {
  if (!(maxMs > minMs && minMs >= 0)) return 0
  return minMs + Math.floor(random() * (maxMs - minMs))
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The Host header as Tornado reports it: `127.0.0.1` when absent. Node reads header bytes as
 * Latin-1; the original (Python 2) decoded them as UTF-8 when encoding the body, so do the same
 * when they are valid UTF-8.
 */
export function requestHost(header: string | undefined): string {
  if (header === undefined) return '127.0.0.1'
  if (!/[\u0080-\uffff]/.test(header)) return header
  try {
    return UTF8.decode(Buffer.from(header, 'latin1'))
  } catch {
    return header
  }
}

/** The peer address as plain IPv4 when it is IPv4-mapped IPv6 (`::ffff:1.2.3.4`). */
export function peerIp(address: string | undefined): string {
  if (address === undefined) return ''
  if (address.length > 7 && address.charCodeAt(0) === 0x3a && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) {
    return address.slice(7)
  }
  return address
}

/**
 * One line like Tornado's access log under Python's default logging format:
 * `INFO:tornado.access:200 GET /endpoint0 (127.0.0.1) 0.52ms` (WARNING for 4xx, ERROR for 5xx).
 */
export function accessLogLine(status: number, method: string, url: string, ip: string, ms: number): string {
  const level = status < 400 ? 'INFO' : status < 500 ? 'WARNING' : 'ERROR'
  return `${level}:tornado.access:${status} ${method} ${url} (${ip}) ${ms.toFixed(2)}ms\n`
}
