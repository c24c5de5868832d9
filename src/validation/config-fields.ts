/** Building blocks for the config schema: strict objects, coerced numbers, names and addresses. */

import { z } from 'zod'
import { checkAddressOrCidr, checkInstanceAddress, isHostName, isListenHost, normaliseDnsServer } from '../config/addresses.js'

/**
 * A strict object (unknown keys rejected) whose unknown-key message suggests the nearest known
 * key, since a typo is the usual cause.
 */
export function strict<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape)
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknownKeyMessage(issue.keys[0] ?? '', known) : undefined),
  })
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) {
    return `unknown key (did you mean ${best}?)`
  }
  return `unknown key (allowed: ${known.join(', ')})`
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

const NUMERIC = /^-?(?:\d+(?:\.\d+)?|\.\d+)$/

/**
 * Numeric fields also accept a string holding a decimal literal, so `"port": "${PORT}"` works
 * after expansion (the environment only has strings). This applies to any numeric string, not
 * only expanded ones: the JSON gives no way to tell them apart later, and the result is the same.
 */
export function numeric<T extends z.ZodType>(schema: T) {
  return z.preprocess(numberFromString, schema)
}

/** A numeric string as a number; anything else unchanged. */
export function numberFromString(value: unknown): unknown {
  return typeof value === 'string' && NUMERIC.test(value) ? Number(value) : value
}

/** Boolean fields accept "true" / "false" strings, for the same reason as `numeric`. */
export const flag = z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean())

/** A coerced integer in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return numeric(z.number().int().min(min).max(max))
}

/** A TCP port; 0 lets the OS pick. */
export const port = integer(0, 65535)

/** A finite number > 0. */
export const positive = numeric(z.number().positive())

/** Service and group names. */
export const name = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, { error: 'may contain only letters, digits, ".", "_" and "-"' })

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const tokenMessage = "must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"

/** A cookie name (RFC 6265 token). */
export const cookieName = z.string().min(1).regex(TOKEN, { error: tokenMessage })

/** A header name, lower-cased because Node exposes request headers in lower case. */
export const headerName = z
  .string()
  .min(1)
  .regex(TOKEN, { error: tokenMessage })
  .transform((value) => value.toLowerCase())

/** Like the names above, but the empty string (which disables the feature) is allowed too. */
export const optionalCookieName = z.string().regex(new RegExp(`^(?:${TOKEN.source.slice(1, -1)})?$`), {
  error: `${tokenMessage}, or "" to disable`,
})
export const optionalHeaderName = optionalCookieName.transform((value) => value.toLowerCase())

/** A URL path for health and readiness checks. */
export const urlPath = z.string().startsWith('/')

/** A listener host: an IP address or `localhost`. */
export const listenHost = z.string().refine(isListenHost, { error: 'must be an IP address or localhost' })

/** A DNS SRV name such as `_simpleservice._tcp.marathon.mesos`. */
export const srvName = z
  .string()
  .min(1)
  .refine(isHostName, { error: 'must be a DNS name (labels of letters, digits, "_" and "-")' })

/** An instance's `host:port`, IPv6 as `[::1]:9000`. */
export const instanceAddress = z.string().superRefine((value, ctx) => {
  const problem = checkInstanceAddress(value)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** A virtual host name: no port, lower-cased. */
export const vhost = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    if (value.includes(':')) ctx.addIssue({ code: 'custom', message: 'must be a host name without port' })
    else if (!isHostName(value)) ctx.addIssue({ code: 'custom', message: 'must be a host name' })
  })
  .transform((value) => value.toLowerCase())

/** A DNS server, normalised to `ip:port` (port 53 when absent). */
export const dnsServer = z.string().transform((value, ctx) => {
  const result = normaliseDnsServer(value)
  if (typeof result === 'string') return result
  ctx.addIssue({ code: 'custom', message: result.problem, input: value })
  return z.NEVER
})

/** An IP address or CIDR. */
export const addressOrCidr = z.string().superRefine((value, ctx) => {
  const problem = checkAddressOrCidr(value)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** An etcd member as `http://host:port` (no path, no TLS: the client speaks plain gRPC). */
export const etcdEndpoint = z.string().superRefine((value, ctx) => {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (url === undefined || url.protocol !== 'http:' || url.port === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    ctx.addIssue({ code: 'custom', message: `must be http://host:port, got ${JSON.stringify(value)}` })
  }
})

/** A key prefix in etcd: starts and ends with "/", printable ASCII. */
export const etcdPrefix = z
  .string()
  .regex(/^\/(?:[A-Za-z0-9._-]+\/)*$/, { error: 'must start and end with "/" and contain only letters, digits, ".", "_", "-" and "/"' })

/** A replica's name in etcd keys and in /v1/cluster. */
export const replicaId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, { error: 'may contain only letters, digits, ".", "_", ":" and "-"' })
