/**
 * Split accuracy: per group, the share of a service's requests and of its distinct clients seen
 * over the last window, next to the share its weight configures. A timer on the control side
 * takes each group's client sketch (the data side fills it, see upstream/client-sketch.ts) and its
 * answered-request count into a ring of slots; the window's figures are worked out once per slot,
 * so reads (API, status, metrics) cost nothing. A group whose client share stays further from its
 * configured share than `observedShare.maxDrift` over a whole window of unchanged weights is
 * drifting: `split_drift` once when it starts, `split_drift_ended` when it is back.
 */
import type { Logger } from 'pino'
import type { ServiceConfig } from '../config/types.js'
import type { EventBus } from '../support/events.js'
import { estimateSketch, mergeSketch, newSketch } from '../upstream/client-sketch.js'
import type { GroupStats, StatsRegistry } from '../upstream/stats.js'
import { countResponses } from './series-math.js'

/** Slots per window at most (each a 4 KiB sketch per group); longer windows get longer slots. */
const MAX_SLOTS = 60
const MIN_SLOT_MS = 1000

/** One group's observed shares over the window; null where the service had none in it. */
export interface ObservedShare {
  /** The share its weight gives it (weight / sum of the service's weights). */
  readonly configured: number
  readonly requests: number | null
  readonly clients: number | null
  /** Requests answered in the window. */
  readonly requestCount: number
  /** Distinct clients in the window (estimated; requests without a sticky key are not counted). */
  readonly clientCount: number
  /** Its client share is further than `maxDrift` from the configured share. */
  readonly drifting: boolean
}

/** A service's split over the window. */
export interface ServiceSplit {
  readonly windowSeconds: number
  /** Seconds of traffic the figures cover (less than the window just after start or a change of weights). */
  readonly seconds: number
  /** Whether a drift can be judged: a whole window at these weights and at least `minClients`. */
  readonly judged: boolean
  readonly groups: Readonly<Record<string, ObservedShare>>
}

/** The shares `weights` configure for `groups` (0 for all when the weights add up to 0). */
function configuredShares(groups: readonly string[], weights: Readonly<Record<string, number>>): Map<string, number> {
  let total = 0
  for (const group of groups) total += weights[group] ?? 0
  return new Map(groups.map((group) => [group, total > 0 ? (weights[group] ?? 0) / total : 0]))
}

/** One group's slots: a client sketch and a request count each. */
class GroupWindow {
  readonly sketches: Uint8Array[]
  readonly requests: Float64Array
  #lastResponses: number

  constructor(
    readonly stats: GroupStats,
    slots: number,
  ) {
    this.sketches = Array.from({ length: slots }, newSketch)
    this.requests = new Float64Array(slots)
    this.#lastResponses = countResponses(stats.responsesByStatus).responses
    // Whatever was counted before the first slot belongs to no window.
    stats.clients.fill(0)
  }

  take(slot: number): void {
    this.sketches[slot]!.set(this.stats.clients)
    this.stats.clients.fill(0)
    const { responses } = countResponses(this.stats.responsesByStatus)
    this.requests[slot] = responses - this.#lastResponses
    this.#lastResponses = responses
  }

  clear(slot: number): void {
    this.sketches[slot]!.fill(0)
    this.requests[slot] = 0
  }
}

/** One service's slots, the weights they were taken under, and the figures of its last slot. */
class ServiceWindow {
  readonly groups = new Map<string, GroupWindow>()
  /** Slots taken since the weights were last seen to change (the ring may hold older ones). */
  slotsAtWeights = 0
  weightsKey = ''
  drifting = new Set<string>()
  split: ServiceSplit | undefined

  constructor(
    readonly slotCount: number,
    readonly slotSeconds: number,
  ) {}
}

/** Samples every service's shares on an unref'd timer; see the file comment. */
export class SplitAccuracy {
  readonly #byService = new Map<string, ServiceWindow>()
  readonly #timers: NodeJS.Timeout[] = []
  #started = false

  constructor(
    private readonly stats: StatsRegistry,
    private readonly services: () => readonly ServiceConfig[],
    private readonly weightsOf: (service: string) => Readonly<Record<string, number>>,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#follow()
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers.length = 0
    this.#started = false
  }

  /** Follows a reloaded config: new services and groups start empty, dropped ones go. */
  reconfigure(): void {
    if (!this.#started) return
    this.stop()
    this.#started = true
    this.#follow()
  }

  /** The last figures of `service`, or undefined before its first slot (or for no such service). */
  splitOf(service: string): ServiceSplit | undefined {
    return this.#byService.get(service)?.split
  }

  #follow(): void {
    const kept = new Map<string, ServiceWindow>()
    for (const config of this.services()) {
      const { windowSeconds } = config.observedShare
      const slotMs = Math.max(MIN_SLOT_MS, Math.ceil((windowSeconds * 1000) / MAX_SLOTS))
      const slots = Math.max(1, Math.round((windowSeconds * 1000) / slotMs))
      let window = this.#byService.get(config.name)
      if (window === undefined || window.slotCount !== slots || window.slotSeconds !== slotMs / 1000) window = new ServiceWindow(slots, slotMs / 1000)
      const groups = this.stats.forService(config.name)
      for (const [name, stats] of groups) {
        const existing = window.groups.get(name)
        if (existing === undefined || existing.stats !== stats) window.groups.set(name, new GroupWindow(stats, slots))
      }
      for (const name of [...window.groups.keys()]) if (!groups.has(name)) window.groups.delete(name)
      kept.set(config.name, window)
      const timer = setInterval(() => this.#sample(window, config), slotMs)
      timer.unref()
      this.#timers.push(timer)
    }
    this.#byService.clear()
    for (const [name, window] of kept) this.#byService.set(name, window)
  }

  #sample(window: ServiceWindow, config: ServiceConfig): void {
    const weights = this.weightsOf(config.name)
    const names = [...window.groups.keys()]
    const key = names.map((name) => `${name}=${weights[name] ?? 0}`).join(',')
    if (key !== window.weightsKey) {
      // Traffic under other weights says nothing about these: the window starts again.
      window.weightsKey = key
      window.slotsAtWeights = 0
      for (const group of window.groups.values()) for (let i = 0; i < window.slotCount; i++) group.clear(i)
      this.#endDrifts(window, config.name, 'weights changed')
    }
    for (const group of window.groups.values()) group.take(window.slotsAtWeights % window.slotCount)
    window.slotsAtWeights++
    this.#judge(window, config, configuredShares(names, weights))
  }

  #judge(window: ServiceWindow, config: ServiceConfig, configured: ReadonlyMap<string, number>): void {
    const { maxDrift, minClients, windowSeconds } = config.observedShare
    const filled = Math.min(window.slotsAtWeights, window.slotCount)
    const clientCounts = new Map<string, number>()
    const requestCounts = new Map<string, number>()
    let clients = 0
    let requests = 0
    const union = newSketch()
    for (const [name, group] of window.groups) {
      union.fill(0)
      for (let i = 0; i < window.slotCount; i++) mergeSketch(union, group.sketches[i]!)
      const count = Math.round(estimateSketch(union))
      let answered = 0
      for (let i = 0; i < window.slotCount; i++) answered += group.requests[i]!
      clientCounts.set(name, count)
      requestCounts.set(name, answered)
      clients += count
      requests += answered
    }
    const judged = window.slotsAtWeights >= window.slotCount && clients >= minClients
    const groups: Record<string, ObservedShare> = {}
    const nowDrifting = new Set<string>()
    for (const name of window.groups.keys()) {
      const share = configured.get(name) ?? 0
      const clientShare = clients > 0 ? clientCounts.get(name)! / clients : null
      if (judged && clientShare !== null && Math.abs(clientShare - share) > maxDrift) nowDrifting.add(name)
      // Too few clients to judge: a drift stands until judged over.
      const drifting = judged ? nowDrifting.has(name) : window.drifting.has(name)
      groups[name] = {
        configured: round(share),
        requests: requests > 0 ? round(requestCounts.get(name)! / requests) : null,
        clients: clientShare === null ? null : round(clientShare),
        requestCount: requestCounts.get(name)!,
        clientCount: clientCounts.get(name)!,
        drifting,
      }
    }
    window.split = { windowSeconds, seconds: filled * window.slotSeconds, judged, groups }
    for (const name of nowDrifting) {
      if (window.drifting.has(name)) continue
      const figures = groups[name]!
      const payload = { service: config.name, group: name, configured: figures.configured, observed: figures.clients, requestShare: figures.requests, clients: figures.clientCount, serviceClients: clients, maxDrift, windowSeconds }
      this.events.publish('split_drift', payload)
      this.logger.warn({ event: 'split_drift', ...payload }, `service ${config.name} group ${name}: ${percent(figures.clients!)} of clients observed over ${windowSeconds} s, ${percent(figures.configured)} configured (more than ${percent(maxDrift)} apart)`)
    }
    if (!judged) return
    for (const name of window.drifting) if (!nowDrifting.has(name)) this.#endDrift(config.name, name, groups[name], 'back within the limit')
    window.drifting = nowDrifting
  }

  #endDrifts(window: ServiceWindow, service: string, reason: string): void {
    for (const name of window.drifting) this.#endDrift(service, name, undefined, reason)
    window.drifting = new Set()
  }

  #endDrift(service: string, group: string, figures: ObservedShare | undefined, reason: string): void {
    const payload = figures === undefined ? { service, group, reason } : { service, group, reason, configured: figures.configured, observed: figures.clients }
    this.events.publish('split_drift_ended', payload)
    this.logger.info({ event: 'split_drift_ended', ...payload }, `service ${service} group ${group}: split drift ended (${reason})`)
  }
}

function round(share: number): number {
  return Math.round(share * 10_000) / 10_000
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`
}
