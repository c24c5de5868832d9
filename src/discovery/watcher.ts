import type { DnsConfig, GroupConfig } from '../config/types.js'
import { DnsSrvResolver } from './dns-srv.js'
import { StaticResolver } from './static.js'
import { formatAddress, mergeAddresses, type InstanceAddress, type Resolution, type Resolver } from './types.js'

/** A failed or empty lookup, as reported to `onError`. */
export interface DiscoveryFailure {
  readonly kind: 'error' | 'empty'
  readonly reason: string
  /** How many lookups in a row ended with this kind (1 for the first). */
  readonly consecutive: number
}

/** How often a group is looked up again, in seconds. */
export interface RefreshBounds {
  readonly refreshMinSeconds: number
  readonly refreshMaxSeconds: number
}

/** What the watcher knows about its group between lookups. */
export interface WatchFacts {
  /** Last address set reported (sorted by key); empty until the first answer with instances. */
  readonly addresses: readonly InstanceAddress[]
  /** At least one lookup succeeded. */
  readonly ready: boolean
  readonly emptyStreak: number
  readonly errorStreak: number
}

/** The outcome of feeding one resolution to `applyResolution`. */
export interface WatchStep {
  readonly facts: WatchFacts
  /** The new address set, only when it differs from the previous one. */
  readonly changed?: readonly InstanceAddress[]
  readonly failure?: DiscoveryFailure
  /** Seconds until the next lookup. */
  readonly delaySeconds: number
}

export const NO_ANSWER_YET: WatchFacts = Object.freeze({ addresses: [], ready: false, emptyStreak: 0, errorStreak: 0 })

/** Seconds until the next lookup: the answer's TTL (or the maximum) within the bounds; the minimum after a failure. */
export function nextRefreshSeconds(resolution: Resolution, bounds: RefreshBounds): number {
  const { refreshMinSeconds: min, refreshMaxSeconds: max } = bounds
  if (resolution.kind !== 'ok') return min
  return Math.min(Math.max(resolution.ttlSeconds ?? max, min), max)
}

/**
 * The watcher's rules as a pure function. `error` keeps the addresses; `empty` clears them only at
 * the `emptyConfirmations`-th empty answer in a row (errors in between neither count nor reset);
 * `ok` resets both streaks.
 */
export function applyResolution(
  facts: WatchFacts,
  resolution: Resolution,
  options: RefreshBounds & { readonly emptyConfirmations: number },
): WatchStep {
  const delaySeconds = nextRefreshSeconds(resolution, options)
  switch (resolution.kind) {
    case 'ok': {
      const next: WatchFacts = { addresses: mergeAddresses(resolution.addresses), ready: true, emptyStreak: 0, errorStreak: 0 }
      return changedStep(facts, next, delaySeconds)
    }
    case 'error': {
      const next: WatchFacts = { ...facts, errorStreak: facts.errorStreak + 1 }
      const failure = { kind: 'error', reason: resolution.reason, consecutive: next.errorStreak } as const
      return { facts: next, failure, delaySeconds }
    }
    case 'empty': {
      const emptyStreak = facts.emptyStreak + 1
      const confirmed = emptyStreak >= options.emptyConfirmations
      const next: WatchFacts = { ...facts, addresses: confirmed ? [] : facts.addresses, emptyStreak, errorStreak: 0 }
      const failure = { kind: 'empty', reason: resolution.reason, consecutive: emptyStreak } as const
      return { ...changedStep(facts, next, delaySeconds), failure }
    }
  }
}

function changedStep(previous: WatchFacts, next: WatchFacts, delaySeconds: number): WatchStep {
  return sameAddresses(previous.addresses, next.addresses)
    ? { facts: { ...next, addresses: previous.addresses }, delaySeconds }
    : { facts: next, changed: next.addresses, delaySeconds }
}

function sameAddresses(a: readonly InstanceAddress[], b: readonly InstanceAddress[]): boolean {
  if (a.length !== b.length) return false
  const keys = new Set(a.map(formatAddress))
  return b.every((address) => keys.has(formatAddress(address)))
}

/** Injectable timer functions (unit tests pass a fake clock). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface DiscoveryWatcherOptions extends RefreshBounds {
  /** The watcher owns it: `stop()` closes it. */
  readonly resolver: Resolver
  /** Called with the full address set (sorted by key) each time it changes; must not throw. */
  readonly onAddresses: (addresses: readonly InstanceAddress[]) => void
  /** Called for every failed or empty lookup; must not throw. */
  readonly onError?: (failure: DiscoveryFailure) => void
  /** Empty answers in a row before the group loses its instances. Default 3. */
  readonly emptyConfirmations?: number
  readonly timers?: Timers
}

/**
 * Keeps one group's address set up to date: looks up now, then again after `nextRefreshSeconds`.
 * Its timer is unref'd, so it never keeps the process alive; after `stop()` nothing is reported.
 */
export class DiscoveryWatcher {
  readonly #options: DiscoveryWatcherOptions
  readonly #timers: Timers
  #facts: WatchFacts = NO_ANSWER_YET
  #timer: unknown
  #started = false
  #stopped = false

  constructor(options: DiscoveryWatcherOptions) {
    this.#options = options
    this.#timers = options.timers ?? REAL_TIMERS
  }

  /** Last address set reported, sorted by key. */
  get current(): readonly InstanceAddress[] {
    return this.#facts.addresses
  }

  /** True once a lookup has succeeded (the proxy's /readyz reads it). */
  get ready(): boolean {
    return this.#facts.ready
  }

  get description(): string {
    return this.#options.resolver.description
  }

  /** Starts watching; resolves once the first lookup has been handled, whatever its outcome. */
  start(): Promise<void> {
    if (this.#started) return Promise.resolve()
    this.#started = true
    return this.#tick()
  }

  /** Clears the timer and closes the resolver; a lookup still in flight reports nothing. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#options.resolver.close?.()
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    let resolution: Resolution
    try {
      resolution = await this.#options.resolver.resolve()
    } catch (error) {
      // The contract says resolve() never throws; a resolver that does still must not stop the watch.
      resolution = { kind: 'error', reason: error instanceof Error ? error.message : String(error) }
    }
    if (this.#stopped) return
    const step = applyResolution(this.#facts, resolution, {
      refreshMinSeconds: this.#options.refreshMinSeconds,
      refreshMaxSeconds: this.#options.refreshMaxSeconds,
      emptyConfirmations: this.#options.emptyConfirmations ?? 3,
    })
    this.#facts = step.facts
    this.#schedule(step.delaySeconds)
    if (step.failure) this.#options.onError?.(step.failure)
    if (step.changed) this.#options.onAddresses(step.changed)
  }

  #schedule(seconds: number): void {
    const handle = this.#timers.setTimeout(() => void this.#tick(), seconds * 1000)
    if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') {
      handle.unref()
    }
    this.#timer = handle
  }
}

/** The resolver for one configured group: `srv` through the `dns` block, else its static `instances`. */
export function createResolver(group: GroupConfig, dns: DnsConfig): Resolver {
  if (group.srv !== undefined) {
    return new DnsSrvResolver({
      name: group.srv,
      servers: dns.servers,
      timeoutMs: dns.timeoutMs,
      minCacheSeconds: dns.refreshMinSeconds,
      maxCacheSeconds: dns.refreshMaxSeconds,
    })
  }
  return new StaticResolver(group.instances ?? [])
}
