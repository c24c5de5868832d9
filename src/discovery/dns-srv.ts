import { promises as dns, type SrvRecord } from 'node:dns'
import { isIP } from 'node:net'
import NodeCache from 'node-cache'
import { mergeAddresses, type InstanceAddress, type Resolution, type Resolver } from './types.js'

/** Settings of one SRV resolver; `servers`, `timeoutMs` and the bounds come from the config's `dns` block. */
export interface DnsSrvOptions {
  /** The SRV name, e.g. `_blue-zdd._tcp.marathon.mesos`. */
  readonly name: string
  /**
   * `host:port` DNS servers, tried in order; empty means the system resolvers. Once a server has
   * failed, c-ares keeps asking the ones that answer and only now and then tries it again.
   */
  readonly servers: readonly string[]
  /** Per-try timeout of one query. */
  readonly timeoutMs: number
  /** Attempts per server before giving up (c-ares `tries`). Default 2. */
  readonly tries?: number
  /** Address cache lifetime bounds in seconds: an A/AAAA TTL is clamped to them. */
  readonly minCacheSeconds: number
  readonly maxCacheSeconds: number
}

/** Node's resolver errors that mean "the name has no such records": NOERROR-empty and NXDOMAIN. */
const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND'])

interface Addresses {
  readonly kind: 'ok'
  readonly addresses: readonly string[]
  /** The smallest TTL the server gave, unclamped; absent for IP literals. */
  readonly ttlSeconds?: number
}

type Failure = { readonly kind: 'empty'; readonly reason: string } | { readonly kind: 'error'; readonly reason: string }

/**
 * Finds a group's instances with an SRV lookup, then resolves each SRV target to A and AAAA records
 * through the same servers (Mesos-DNS target names are not in /etc/hosts). Priority and weight are
 * ignored (Mesos-DNS sets both to 0); duplicate addresses are merged. Address answers are cached for
 * their TTL, clamped to the bounds. Node's SRV API gives no TTL, so `ttlSeconds` is the smallest
 * A/AAAA TTL among the targets (absent when every target is an IP literal).
 */
export class DnsSrvResolver implements Resolver {
  readonly description: string
  readonly #options: DnsSrvOptions
  readonly #resolver: dns.Resolver
  readonly #cache: NodeCache
  #closed = false

  /** Throws if a server is not a valid `host:port`. */
  constructor(options: DnsSrvOptions) {
    this.#options = options
    this.description = `dns-srv ${options.name}${options.servers.length > 0 ? ` @${options.servers.join(',')}` : ''}`
    this.#resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: options.tries ?? 2 })
    if (options.servers.length > 0) this.#resolver.setServers([...options.servers])
    // checkperiod 0: no background sweep timer; expired entries are dropped when read.
    this.#cache = new NodeCache({ useClones: false, stdTTL: 0, checkperiod: 0 })
  }

  async resolve(): Promise<Resolution> {
    if (this.#closed) return { kind: 'error', reason: 'resolver closed' }
    try {
      return await this.#lookup()
    } catch (error) {
      // resolve() never throws; anything unexpected is a failed lookup, which keeps the last instances.
      return { kind: 'error', reason: `SRV ${this.#options.name}: ${describe(error)}` }
    }
  }

  /** Cancels queries in flight (they come back as `error`) and drops the address cache. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#resolver.cancel()
    this.#cache.flushAll()
    this.#cache.close()
  }

  async #lookup(): Promise<Resolution> {
    const { name } = this.#options
    let records: SrvRecord[]
    try {
      records = await this.#resolver.resolveSrv(name)
    } catch (error) {
      return failure(error, `SRV ${name}`)
    }
    if (records.length === 0) return { kind: 'empty', reason: `SRV ${name}: no records` }

    // One address lookup per distinct target, all at once.
    const ports = new Map<string, Set<number>>()
    for (const record of records) {
      const target = record.name.toLowerCase().replace(/\.$/, '')
      const set = ports.get(target) ?? new Set<number>()
      set.add(record.port)
      ports.set(target, set)
    }
    const targets = [...ports.keys()]
    const lookups = await Promise.all(targets.map((target) => this.#addresses(target)))
    if (this.#closed) return { kind: 'error', reason: 'resolver closed' }

    const addresses: InstanceAddress[] = []
    let ttlSeconds: number | undefined
    let firstError: string | undefined
    let firstEmpty: string | undefined
    for (let i = 0; i < targets.length; i++) {
      const lookup = lookups[i]!
      if (lookup.kind === 'ok') {
        for (const host of lookup.addresses) {
          for (const port of ports.get(targets[i]!)!) addresses.push({ host, port })
        }
        if (lookup.ttlSeconds !== undefined) ttlSeconds = Math.min(ttlSeconds ?? Infinity, lookup.ttlSeconds)
      } else if (lookup.kind === 'error') {
        firstError ??= lookup.reason
      } else {
        firstEmpty ??= lookup.reason
      }
    }
    if (addresses.length > 0) {
      return ttlSeconds === undefined
        ? { kind: 'ok', addresses: mergeAddresses(addresses) }
        : { kind: 'ok', addresses: mergeAddresses(addresses), ttlSeconds }
    }
    // No usable target: if any lookup failed we cannot tell the set is empty, so keep what we had.
    if (firstError !== undefined) return { kind: 'error', reason: `SRV ${name}: every target failed (${firstError})` }
    return { kind: 'empty', reason: `SRV ${name}: no target has an address (${firstEmpty ?? 'none'})` }
  }

  /** The addresses of one SRV target (ports are filled in by the caller), from the cache when fresh. */
  async #addresses(target: string): Promise<Addresses | Failure> {
    if (isIP(target) !== 0) return { kind: 'ok', addresses: [target] }
    const cached = this.#cache.get<Addresses>(target)
    if (cached) return cached

    const [v4, v6] = await Promise.allSettled([
      this.#resolver.resolve4(target, { ttl: true }),
      this.#resolver.resolve6(target, { ttl: true }),
    ])
    const answers = [v4, v6].flatMap((settled) => (settled.status === 'fulfilled' ? settled.value : []))
    const errors = [v4, v6].flatMap((settled) => (settled.status === 'rejected' ? [settled.reason as unknown] : []))
    if (answers.length > 0) {
      const fresh: Addresses = {
        kind: 'ok',
        addresses: answers.map((answer) => answer.address),
        ttlSeconds: Math.min(...answers.map((answer) => answer.ttl)),
      }
      // Cache only complete answers: a failed AAAA lookup may hide addresses we would want next time.
      const complete = errors.every((error) => EMPTY_CODES.has(codeOf(error)))
      const { minCacheSeconds, maxCacheSeconds } = this.#options
      if (complete) this.#cache.set(target, fresh, clamp(fresh.ttlSeconds!, minCacheSeconds, maxCacheSeconds))
      return fresh
    }
    const failed = errors.find((error) => !EMPTY_CODES.has(codeOf(error)))
    if (failed !== undefined) return failure(failed, `A/AAAA ${target}`)
    return { kind: 'empty', reason: `A/AAAA ${target}: ${codeOf(errors[0])}` }
  }
}

/** Maps a resolver error: NXDOMAIN and NOERROR-empty are `empty`; SERVFAIL, REFUSED, timeouts and the rest are `error`. */
function failure(error: unknown, what: string): Failure {
  const code = codeOf(error)
  const reason = `${what}: ${code || describe(error)}`
  return EMPTY_CODES.has(code) ? { kind: 'empty', reason } : { kind: 'error', reason }
}

function codeOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : ''
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max)
}
