import { NO_CERTIFICATES, type Certificates, type KeyPair } from '../config/certificates.js'
import type { Config, ServiceConfig } from '../config/types.js'
import { SnapshotHolder } from '../routing/snapshot.js'
import type { SnapshotSpec } from '../routing/spec.js'
import { buildRouteTable, buildServiceRoute } from '../routing/table.js'
import type { RouteTable } from '../routing/types.js'
import type { Logger } from '../support/log.js'
import type { Instance, InstanceId } from '../upstream/instance.js'
import type { OutcomeSink } from '../upstream/outcomes.js'
import { InstancePools, type DetachedPool } from '../upstream/pools.js'
import { StatsRegistry } from '../upstream/stats.js'
import { AccessLog } from './access-log.js'
import { OpenListeners, type ListeningService, type WantedListener } from './open-listeners.js'
import { planFor, type PlanParts, type ServicePlan } from './plan.js'
import { RetryPolicies } from './retry.js'
import { tableFromSpec } from './table.js'
import type { ListenerCertificates } from './tls.js'
import { longestDrainMs } from '../config/drain.js'

// Callers know the data plane, not how it keeps its listeners.
export type { ListeningService } from './open-listeners.js'

export interface DataPlaneOptions {
  /** Where failures and 5xx streaks are reported (health, or a cluster worker's channel to it). */
  readonly outcomes: OutcomeSink
  readonly logger: Logger
  /** The certificates of the config's TLS listeners, read and checked (loadCertificates). */
  readonly certificates?: Certificates
}

/** Services grouped by the address they listen on: one listener each. Port 0 is never shared. */
function byListenAddress(services: readonly ServiceConfig[]): Map<string, ServiceConfig[]> {
  const groups = new Map<string, ServiceConfig[]>()
  for (const service of services) {
    // As the config rules say: each port-0 service gets a port of its own.
    const key = service.listen.port === 0 ? `service|${service.name}` : `${service.listen.host}|${service.listen.port}`
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [service])
    else list.push(service)
  }
  return groups
}

/**
 * The certificates of a TLS listener: its first service's is the default; each vhost gets its own
 * when it has one, else its service's.
 */
function listenerCertificates(services: readonly ServiceConfig[], certificates: Certificates): ListenerCertificates | undefined {
  const first = services[0]!.listen.tls
  if (first === undefined) return undefined
  const byService = new Map(certificates.services.map((entry) => [entry.service, entry]))
  const byHost = new Map<string, KeyPair>()
  for (const service of services) {
    const own = byService.get(service.name)
    if (own === undefined) continue
    for (const vhost of service.vhosts) byHost.set(vhost, own.vhosts.find((entry) => entry.host === vhost)?.pair ?? own.pair)
  }
  const fallback = byService.get(services[0]!.name)?.pair
  if (fallback === undefined) throw new Error(`no certificate was read for service ${services[0]!.name}`)
  return { minVersion: first.minVersion, fallback, byHost }
}

/** A table that routes nothing (every service answers 503), in force until the first spec. */
function emptyTable(services: readonly ServiceConfig[]): RouteTable<Instance> {
  return buildRouteTable(0, services.map((service) => buildServiceRoute(service, service.weights, new Map())))
}

/**
 * The data plane, the same in a single process and in each cluster worker: listeners, one pool per
 * instance, traffic counters, retry budgets. It routes with the snapshot built from the last spec it
 * was given (`apply`), reports outcomes to its sink, and stops the same way in both modes: no new
 * connections, in-flight requests finish (GentleClose), then the pools close. A reload
 * (`reconfigure`, then `listen`) changes all of it without dropping a connection: requests running
 * keep the plan, snapshot and pool they started with.
 */
export class DataPlane {
  /** Traffic counters per service and group. */
  readonly stats: StatsRegistry
  #config: Config
  #certificates: Certificates
  readonly #logger: Logger
  readonly #outcomes: OutcomeSink
  readonly #pools: InstancePools
  readonly #retry: RetryPolicies
  #plans = new Map<string, ServicePlan>()
  readonly #table: SnapshotHolder<RouteTable<Instance>>
  #lastSpec: SnapshotSpec | undefined
  readonly #listeners: OpenListeners
  /** Listeners a reload closed, finishing their requests. */
  readonly #retiring = new Set<Promise<void>>()
  #accessLog: AccessLog | undefined
  #accessLogConfig: Config['accessLog']
  #live: ReadonlySet<Instance> = new Set()
  #stopping: Promise<void> | undefined

  constructor(config: Config, options: DataPlaneOptions) {
    this.#config = config
    this.#certificates = options.certificates ?? NO_CERTIFICATES
    this.#logger = options.logger
    this.#outcomes = options.outcomes
    this.stats = new StatsRegistry(config)
    this.#pools = new InstancePools(config.services)
    this.#retry = new RetryPolicies(config.services, this.stats)
    this.#accessLog = config.accessLog === undefined ? undefined : new AccessLog(config.accessLog, options.logger)
    this.#accessLogConfig = config.accessLog
    this.#makePlans()
    this.#table = new SnapshotHolder(emptyTable(config.services))
    this.#listeners = new OpenListeners({
      table: this.#table,
      logger: this.#logger,
      retire: (task) => this.#retire(task),
      // Their pools drain now, unless a later spec names them again.
      unpinned: () => {
        if (this.#lastSpec !== undefined && this.#stopping === undefined) this.apply(this.#lastSpec)
      },
    })
  }

  #makePlans(): void {
    const parts: PlanParts = { stats: this.stats, retry: this.#retry, outcomes: this.#outcomes, logger: this.#logger, accessLog: this.#accessLog }
    this.#plans = new Map(this.#config.services.map((service) => [service.name, planFor(service, parts)]))
  }

  /** Routes with `spec` from the next request on; instances it no longer names drain. */
  apply(spec: SnapshotSpec): void {
    this.#lastSpec = spec
    const { table, inUse, live } = tableFromSpec(this.#config.services, spec, this.#pools)
    for (const instance of this.#listeners.pinned) (inUse as Set<Instance>).add(instance)
    // Streaks from before an instance entered or left rotation say nothing about it now.
    for (const instance of inUse) if (live.has(instance) !== this.#live.has(instance)) instance.resetStreaks()
    this.#live = live
    this.#pools.retain(inUse)
    this.#table.swap(table)
  }

  /**
   * A reload: counters, retry rules, pools, plans and certificates follow `config` now (the next
   * spec brings its instances); listeners follow at the next `listen()`.
   */
  reconfigure(config: Config, certificates: Certificates): void {
    const before = this.#table.current
    this.#config = config
    this.#certificates = certificates
    this.stats.reconfigure(config)
    this.#retry.reconfigure(config.services, this.stats)
    this.#pools.reconfigure(config.services)
    if (JSON.stringify(config.accessLog) !== JSON.stringify(this.#accessLogConfig)) {
      const old = this.#accessLog
      this.#accessLog = config.accessLog === undefined ? undefined : new AccessLog(config.accessLog, this.#logger)
      // Requests running still write to the old file; it closes once they are over.
      if (old !== undefined) this.#retire(async () => {
        await new Promise((resolve) => setTimeout(resolve, longestDrainMs(this.#config.services)).unref())
        await old.close(this.#logger)
      })
    }
    this.#accessLogConfig = config.accessLog
    this.#makePlans()
    // Before the new table is in force: no listener that stays pairs an old plan with it.
    this.#listeners.follow(this.#wanted(), before)
    // Services the old spec knows keep their instances until the next one.
    if (this.#lastSpec !== undefined) this.apply(this.#lastSpec)
    else this.#table.swap(emptyTable(config.services))
  }

  #retire(task: () => Promise<void>): void {
    const done: Promise<void> = task()
      .catch(() => {})
      .finally(() => this.#retiring.delete(done))
    this.#retiring.add(done)
  }

  /** The listeners the config asks for, by listen address. */
  #wanted(): Map<string, WantedListener> {
    const wanted = new Map<string, WantedListener>()
    for (const [key, services] of byListenAddress(this.#config.services)) {
      const { host, port, tls, http2, h2c } = services[0]!.listen
      wanted.set(key, {
        host,
        port,
        http2: tls === undefined ? h2c : http2,
        services,
        settings: {
          // Services sharing a port share its connections: the smallest limit holds for all.
          maxConnections: Math.min(...services.map((service) => service.listen.maxConnections)),
          plans: services.map((service) => this.#plans.get(service.name)!),
          trustedProxies: this.#config.trustedProxies,
          accessLog: this.#accessLog,
          tls: listenerCertificates(services, this.#certificates),
        },
      })
    }
    return wanted
  }

  /**
   * Makes the open listeners match the config: opens the missing ones, updates those that stay,
   * closes the others gracefully (their requests finish). At start it opens every listener, and
   * on a failure closes what it opened and throws.
   */
  async listen(): Promise<ListeningService[]> {
    await this.#listeners.match(this.#wanted())
    return this.listening()
  }

  /** Opens one listener per listen address; on a failure closes what it opened and throws. */
  async start(): Promise<ListeningService[]> {
    try {
      return await this.listen()
    } catch (error) {
      await this.stop(0)
      throw error
    }
  }

  /** Every service's open listener. */
  listening(): ListeningService[] {
    return this.#listeners.listening()
  }

  /** Requests running on instance `id` in this data plane. */
  inflightOf(id: InstanceId): number {
    return this.#pools.inflightOf(id)
  }

  /** Moves instance `id` to fresh connections; the old ones finish their requests (a cut-over's drain). */
  detach(id: InstanceId): DetachedPool {
    return this.#pools.detach(id)
  }

  /** The instances of the current snapshot, live or standby. */
  instances(): IterableIterator<Instance> {
    return this.#pools.current()
  }

  /**
   * Stops accepting; in-flight requests finish within `graceMs` (then their connections are cut);
   * then the pools close. Safe to call more than once.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#listeners.close(graceMs)
      await Promise.all(this.#retiring)
      this.#retry.stop()
      await this.#pools.closeAll(1_000)
      await this.#accessLog?.close(this.#logger)
    })()
    return this.#stopping
  }
}
