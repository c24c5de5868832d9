/** Config rules that relate several fields; called from the schema as refinements and transforms. */

import type { z } from 'zod'
import { validateWeights } from '../routing/weights.js'
import { isLoopbackHost } from '../config/addresses.js'
import { numberFromString } from './config-fields.js'
import type { StateConfig } from '../config/types.js'

type Context = z.RefinementCtx

/**
 * A group has exactly one of `srv` and `instances` (`backends` is accepted as the older name of
 * `instances`), and no instance twice.
 */
export function checkGroup(group: { srv?: string; instances?: readonly string[]; backends?: readonly string[] }, ctx: Context): void {
  if (group.instances !== undefined && group.backends !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'backends is the older name of instances: set only one of them' })
    return
  }
  const key = group.backends !== undefined ? 'backends' : 'instances'
  const list = group.instances ?? group.backends
  if (group.srv !== undefined && list !== undefined) {
    ctx.addIssue({ code: 'custom', message: `set either srv or ${key}, not both` })
  } else if (group.srv === undefined && list === undefined) {
    ctx.addIssue({ code: 'custom', message: 'needs srv (a DNS SRV name) or instances (a host:port list)' })
  }
  const seen = new Map<string, number>()
  list?.forEach((address, index) => {
    const first = seen.get(address.toLowerCase())
    if (first === undefined) seen.set(address.toLowerCase(), index)
    else ctx.addIssue({ code: 'custom', path: [key, index], message: `duplicate of ${key}[${first}]` })
  })
}

/** The group as the rest of the proxy reads it: `backends` under its current name. */
export function renameBackends<G extends { instances?: readonly string[]; backends?: readonly string[] }>(group: G): Omit<G, 'backends'> {
  const { backends, ...rest } = group
  return backends === undefined ? rest : { ...rest, instances: backends }
}

interface ServiceInput {
  readonly groups: readonly { readonly name: string }[]
  readonly weights?: unknown
}

/**
 * Checks group names are unique and the weights name only those groups, then fills in the
 * weights: equal when absent, 0 for groups left out.
 */
export function resolveService<S extends ServiceInput>(
  service: S,
  ctx: Context,
): Omit<S, 'weights'> & { weights: Readonly<Record<string, number>> } {
  const names: string[] = []
  let valid = true
  service.groups.forEach((group, index) => {
    const first = names.indexOf(group.name)
    if (first >= 0 || group.name === '__proto__') {
      const message = first >= 0 ? `duplicate group name "${group.name}" (also groups[${first}])` : '"__proto__" is reserved'
      ctx.addIssue({ code: 'custom', path: ['groups', index, 'name'], message })
      valid = false
    }
    names.push(group.name)
  })
  if (!valid) return withWeights(service, {})

  const result = validateWeights(weightsInput(service.weights, names), names)
  if (!result.ok) {
    const path = result.field === '' ? ['weights'] : ['weights', result.field]
    ctx.addIssue({ code: 'custom', path, message: result.message })
    return withWeights(service, {})
  }
  return withWeights(service, result.weights)
}

/** Equal weights when absent; numeric strings (from `${VAR}`) as numbers. */
function weightsInput(weights: unknown, names: readonly string[]): unknown {
  const input: Record<string, unknown> = {}
  if (weights === undefined) for (const name of names) input[name] = 1
  else if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) return weights
  else for (const [name, weight] of Object.entries(weights)) setOwn(input, name, numberFromString(weight))
  return input
}

function withWeights<S extends ServiceInput>(service: S, weights: Readonly<Record<string, number>>) {
  const { weights: _input, ...rest } = service
  return { ...rest, weights }
}

// A weights key named "__proto__" must stay a key, so validateWeights reports it as an unknown group.
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** h2c is HTTP/2 without TLS: on a TLS listener, ALPN offers HTTP/2 (`http2`). */
export function checkListen(listen: { tls?: unknown; h2c: boolean }, ctx: Context): void {
  if (listen.tls !== undefined && listen.h2c) {
    ctx.addIssue({ code: 'custom', path: ['h2c'], message: 'is HTTP/2 without TLS: a TLS listener offers HTTP/2 through ALPN (see http2)' })
  }
}

type VhostEntry = string | { readonly name: string; readonly tls: { readonly cert: string; readonly key: string } }

/** Vhost names as the rest of the proxy reads them, and apart from them the vhosts with a certificate of their own. */
export function splitVhosts<S extends { vhosts: readonly VhostEntry[] }>(
  service: S,
): Omit<S, 'vhosts'> & { vhosts: string[]; vhostCertificates: { host: string; cert: string; key: string }[] } {
  const { vhosts, ...rest } = service
  const names: string[] = []
  const vhostCertificates: { host: string; cert: string; key: string }[] = []
  for (const entry of vhosts) {
    if (typeof entry === 'string') names.push(entry)
    else {
      names.push(entry.name)
      vhostCertificates.push({ host: entry.name, cert: entry.tls.cert, key: entry.tls.key })
    }
  }
  return { ...rest, vhosts: names, vhostCertificates }
}

/** Without a token the admin listener may only bind to loopback. */
export function checkAdmin(admin: { host: string; token?: string }, ctx: Context): void {
  if (admin.token === undefined && !isLoopbackHost(admin.host)) {
    ctx.addIssue({ code: 'custom', path: ['token'], message: 'required when admin.host is not a loopback address' })
  }
}

/**
 * `allow: "any"` reaches groups no one releases traffic to (dark launches, the group a cut-over left),
 * so it needs the secret; an override with nothing to read it from is a mistake.
 */
export function checkOverride(override: { header: string; cookie: string; allow: string; secret?: string }, ctx: Context): void {
  if (override.allow === 'any' && override.secret === undefined) {
    ctx.addIssue({ code: 'custom', path: ['secret'], message: 'required when allow is "any": without it anyone could reach a group with weight 0' })
  }
  if (override.secret !== undefined && override.header === '' && override.cookie === '') {
    ctx.addIssue({ code: 'custom', path: ['secret'], message: 'set header or cookie too: the secret guards an override' })
  }
}

export function checkDns(dns: { refreshMinSeconds: number; refreshMaxSeconds: number }, ctx: Context): void {
  if (dns.refreshMinSeconds > dns.refreshMaxSeconds) {
    ctx.addIssue({
      code: 'custom',
      path: ['refreshMinSeconds'],
      message: `must be <= refreshMaxSeconds (${dns.refreshMaxSeconds})`,
    })
  }
}

interface ServiceListen {
  readonly name: string
  readonly listen: {
    readonly host: string
    readonly port: number
    readonly tls?: { readonly minVersion: string }
    readonly http2: boolean
    readonly h2c: boolean
  }
  readonly vhosts: readonly string[]
  readonly vhostCertificates?: readonly { readonly host: string }[]
}

/** How a listener speaks, which every service sharing it must agree on. */
function protocolOf(listen: ServiceListen['listen']): string {
  if (listen.tls === undefined) return listen.h2c ? 'plain HTTP with h2c' : 'plain HTTP'
  return `TLS (${listen.tls.minVersion}+${listen.http2 ? ', HTTP/2' : ''})`
}

/**
 * Service names are unique, and services sharing a listener (same host and port, port not 0)
 * each declare vhosts, disjoint across them, so every Host header picks one service.
 */
export function checkServices(config: { services: readonly ServiceListen[] }, ctx: Context): void {
  const byName = new Map<string, number>()
  const byListener = new Map<string, number[]>()
  config.services.forEach((service, index) => {
    const first = byName.get(service.name)
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['services', index, 'name'],
        message: `duplicate service name "${service.name}" (also services[${first}])`,
      })
    } else byName.set(service.name, index)
    service.vhosts.forEach((host, hostIndex) => {
      const firstHost = service.vhosts.indexOf(host)
      if (firstHost !== hostIndex) {
        const path = ['services', index, 'vhosts', hostIndex]
        ctx.addIssue({ code: 'custom', path, message: `duplicate of vhosts[${firstHost}]` })
      }
    })
    // A service that failed its own checks arrives here untransformed: nothing to relate then.
    if (service.listen.tls === undefined && (service.vhostCertificates?.length ?? 0) > 0) {
      const hostIndex = service.vhosts.indexOf(service.vhostCertificates![0]!.host)
      ctx.addIssue({ code: 'custom', path: ['services', index, 'vhosts', hostIndex, 'tls'], message: 'needs listen.tls: a certificate is for a TLS listener' })
    }
    if (service.listen.port === 0) return // Each port-0 listener gets its own port.
    const key = listenerName(service.listen)
    byListener.set(key, [...(byListener.get(key) ?? []), index])
  })

  for (const [listener, indices] of byListener) {
    if (indices.length < 2) continue
    const claimed = new Map<string, number>()
    const first = config.services[indices[0]!]!
    for (const index of indices) {
      const service = config.services[index]!
      if (protocolOf(service.listen) !== protocolOf(first.listen)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', index, 'listen'],
          message: `services sharing ${listener} share its connections: this one says ${protocolOf(service.listen)}, services[${indices[0]}] says ${protocolOf(first.listen)}`,
        })
      }
      if (service.vhosts.length === 0) {
        const other = indices.find((candidate) => candidate !== index)!
        ctx.addIssue({
          code: 'custom',
          path: ['services', index, 'vhosts'],
          message: `must not be empty: services[${other}] also listens on ${listener}`,
        })
        continue
      }
      service.vhosts.forEach((host, hostIndex) => {
        const owner = claimed.get(host)
        if (owner === undefined) claimed.set(host, index)
        else if (owner !== index) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', index, 'vhosts', hostIndex],
            message: `"${host}" is also a vhost of services[${owner}] on ${listener}`,
          })
        }
      })
    }
  }
}

function listenerName(listen: { host: string; port: number }): string {
  return listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`
}

/** Fields of `state` by store: a field of the other store is a mistake worth naming. */
const STATE_FIELDS = {
  file: ['store', 'path'],
  etcd: ['store', 'endpoints', 'prefix', 'cachePath', 'replicaId', 'leaseSeconds', 'timeoutMs'],
} as const

interface StateInput {
  store: 'file' | 'etcd'
  path?: string
  endpoints?: string[]
  prefix?: string
  cachePath?: string
  replicaId?: string
  leaseSeconds?: number
  timeoutMs?: number
}

export function checkState(state: StateInput, ctx: Context): void {
  const allowed: readonly string[] = STATE_FIELDS[state.store]
  for (const [key, value] of Object.entries(state)) {
    if (value !== undefined && !allowed.includes(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `only for store "${state.store === 'file' ? 'etcd' : 'file'}" (store is "${state.store}")` })
    }
  }
  if (state.store === 'etcd' && state.endpoints === undefined) {
    ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'required when store is "etcd" (for example ["http://127.0.0.1:2379"])' })
  }
}

/** The `state` block with the defaults of its store. */
export function resolveState(state: StateInput): StateConfig {
  if (state.store === 'file') return { store: 'file', path: state.path ?? 'var/state.json' }
  return {
    store: 'etcd',
    endpoints: state.endpoints ?? [],
    prefix: state.prefix ?? '/zdd/',
    cachePath: state.cachePath ?? 'var/state-cache.json',
    ...(state.replicaId === undefined ? {} : { replicaId: state.replicaId }),
    leaseSeconds: state.leaseSeconds ?? 10,
    timeoutMs: state.timeoutMs ?? 2_000,
  }
}
