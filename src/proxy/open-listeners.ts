import { longestDrainMs } from '../config/drain.js'
import type { ServiceConfig } from '../config/types.js'
import type { SnapshotHolder } from '../routing/snapshot.js'
import type { RouteTable } from '../routing/types.js'
import type { Logger } from '../support/log.js'
import type { Instance } from '../upstream/instance.js'
import { GentleClose } from './gentle-close.js'
import { ProxyListener, type ListenerSettings } from './listener.js'

/** A service's listener as opened: the port is the bound one (the config may say 0). */
export interface ListeningService {
  readonly service: string
  readonly host: string
  readonly port: number
}

/** One listener as the config asks for it. */
export interface WantedListener {
  readonly host: string
  readonly port: number
  readonly http2: boolean
  readonly services: readonly ServiceConfig[]
  readonly settings: ListenerSettings
}

interface OpenListener {
  readonly listener: ProxyListener
  readonly closer: GentleClose
  readonly host: string
  readonly port: number
  services: readonly string[]
  /** The longest drainSeconds of its services, in ms: how long its requests may run on at a close. */
  graceMs: number
  /** Instances it keeps routing to while it closes (its services were removed by a reload). */
  pinned?: ReadonlySet<Instance>
}

/** What the open listeners need from their data plane. */
export interface OpenListenersParts {
  /** The data plane's table: every listener opened routes with it. */
  readonly table: SnapshotHolder<RouteTable<Instance>>
  readonly logger: Logger
  /** Runs a closing listener's wind-down in the background (the data plane's stop waits for it). */
  readonly retire: (task: () => Promise<void>) => void
  /** A closed listener let go of the instances it pinned: their pools may drain now. */
  readonly unpinned: () => void
}

/**
 * A data plane's listeners, by listen address, across reloads: which stay (and take the new
 * settings), which close gracefully, which open, and the instances that closing ones still route to.
 */
export class OpenListeners {
  readonly #open = new Map<string, OpenListener>()
  /** Instances of removed services that closing listeners still route to: their pools stay. */
  readonly #pinned = new Set<Instance>()

  constructor(private readonly parts: OpenListenersParts) {}

  /** Instances closing listeners still route to; the data plane keeps their pools. */
  get pinned(): ReadonlySet<Instance> {
    return this.#pinned
  }

  /**
   * Listeners that stay get the new plans now, so none pairs an old plan with the new table. Those
   * the next `match()` closes keep theirs; one whose services are all gone keeps routing them
   * with `before` (the last table that had them), and their live instances keep their pools,
   * until it is closed.
   */
  follow(wanted: ReadonlyMap<string, WantedListener>, before: RouteTable<Instance>): void {
    // Every configured service is served by some wanted listener.
    const names = new Set([...wanted.values()].flatMap((next) => next.services.map((service) => service.name)))
    for (const [key, open] of this.#open) {
      const next = wanted.get(key)
      if (next !== undefined && open.listener.speaksAs({ tls: next.settings.tls, http2: next.http2 })) {
        open.listener.update(next.settings)
        continue
      }
      if (open.pinned !== undefined || open.services.some((name) => names.has(name))) continue
      const pinned = new Set<Instance>()
      for (const name of open.services) {
        for (const group of before.servicesByName.get(name)?.groups ?? []) for (const instance of group.instances) pinned.add(instance)
      }
      open.listener.pinTable(before)
      open.pinned = pinned
      for (const instance of pinned) this.#pinned.add(instance)
    }
  }

  /**
   * Makes the open listeners match `wanted`: opens the missing ones, updates those that stay,
   * closes the others gracefully (their requests finish). On a failure to open, closes what it
   * opened and throws.
   */
  async match(wanted: ReadonlyMap<string, WantedListener>): Promise<void> {
    // Closed first: a listener that speaks differently now may be reopened on the same address.
    for (const [key, open] of this.#open) {
      const next = wanted.get(key)
      if (next !== undefined && open.listener.speaksAs({ tls: next.settings.tls, http2: next.http2 })) continue
      this.#open.delete(key)
      this.parts.logger.info({ event: 'listener_closing', host: open.host, port: open.port, services: open.services }, 'listener closing: its requests finish')
      this.parts.retire(async () => {
        await open.closer.close(open.graceMs)
        if (open.pinned === undefined) return
        for (const instance of open.pinned) this.#pinned.delete(instance)
        this.parts.unpinned()
      })
    }
    const opened: OpenListener[] = []
    try {
      for (const [key, next] of wanted) {
        const graceMs = longestDrainMs(next.services)
        const open = this.#open.get(key)
        if (open !== undefined) {
          open.listener.update(next.settings)
          open.services = next.services.map((service) => service.name)
          open.graceMs = graceMs
          continue
        }
        const listener = new ProxyListener({ ...next.settings, host: next.host, port: next.port, http2: next.http2, table: this.parts.table, logger: this.parts.logger })
        const closer = new GentleClose(listener.front)
        // In a cluster worker the primary owns the socket; every worker sees the port it bound.
        const port = await listener.listen()
        const entry: OpenListener = { listener, closer, host: next.host, port, services: next.services.map((service) => service.name), graceMs }
        this.#open.set(key, entry)
        opened.push(entry)
      }
    } catch (error) {
      for (const entry of opened) {
        for (const [key, open] of this.#open) if (open === entry) this.#open.delete(key)
        await entry.closer.close(0)
      }
      throw error
    }
  }

  /** Every service's open listener. */
  listening(): ListeningService[] {
    const listening: ListeningService[] = []
    for (const open of this.#open.values()) for (const service of open.services) listening.push({ service, host: open.host, port: open.port })
    return listening
  }

  /** Stops accepting on every open listener; their requests finish within `graceMs`. */
  async close(graceMs: number): Promise<void> {
    await Promise.all([...this.#open.values()].map((open) => open.closer.close(graceMs)))
  }
}
