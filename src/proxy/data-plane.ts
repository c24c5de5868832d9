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
import { GentleClose } from './gentle-close.js'
import { ProxyListener } from './listener.js'
import { planFor, type PlanParts } from './plan.js'
import { RetryPolicies } from './retry.js'
import { tableFromSpec } from './table.js'

/** A service's listener as opened: the port is the bound one (the config may say 0). */
export interface ListeningService {
  readonly service: string
  readonly host: string
  readonly port: number
}

export interface DataPlaneOptions {
  /** Where failures and 5xx streaks are reported (health, or a cluster worker's channel to it). */
  readonly outcomes: OutcomeSink
  readonly logger: Logger
}

/** Services grouped by the address they listen on: one listener each. Port 0 is never shared. */
function byListenAddress(services: readonly ServiceConfig[]): ServiceConfig[][] {
  const groups = new Map<string, ServiceConfig[]>()
  for (const service of services) {
    // As the config rules say: each port-0 service gets a port of its own.
    const key = service.listen.port === 0 ? `service|${service.name}` : `${service.listen.host}|${service.listen.port}`
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [service])
    else list.push(service)
  }
  return [...groups.values()]
}

/** A table that routes nothing (every service answers 503), in force until the first spec. */
function emptyTable(services: readonly ServiceConfig[]): RouteTable<Instance> {
  return buildRouteTable(0, services.map((service) => buildServiceRoute(service, service.weights, new Map())))
}

/**
 * The data plane, the same in a single process and in each cluster worker: listeners, one pool per
 * instance, traffic counters, retry budgets. It routes with the snapshot built from the last spec it
 * was given (`apply`), reports outcomes to its sink, and stops the same way in both modes: no new
 * connections, in-flight requests finish (GentleClose), then the pools close.
 */
export class DataPlane {
  /** Traffic counters per service and group. */
  readonly stats: StatsRegistry
  readonly #config: Config
  readonly #logger: Logger
  readonly #pools: InstancePools
  readonly #retry: RetryPolicies
  readonly #parts: PlanParts
  readonly #table: SnapshotHolder<RouteTable<Instance>>
  readonly #closers: GentleClose[] = []
  readonly #accessLog: AccessLog | undefined
  #live: ReadonlySet<Instance> = new Set()
  #stopping: Promise<void> | undefined

  constructor(config: Config, options: DataPlaneOptions) {
    this.#config = config
    this.#logger = options.logger
    this.stats = new StatsRegistry(config)
    this.#pools = new InstancePools(config.services)
    this.#retry = new RetryPolicies(config.services, this.stats)
    this.#accessLog = config.accessLog === undefined ? undefined : new AccessLog(config.accessLog, options.logger)
    this.#parts = { stats: this.stats, retry: this.#retry, outcomes: options.outcomes, logger: options.logger, accessLog: this.#accessLog }
    this.#table = new SnapshotHolder(emptyTable(config.services))
  }

  /** Routes with `spec` from the next request on; instances it no longer names drain. */
  apply(spec: SnapshotSpec): void {
    const { table, inUse, live } = tableFromSpec(this.#config.services, spec, this.#pools)
    // Streaks from before an instance entered or left rotation say nothing about it now.
    for (const instance of inUse) if (live.has(instance) !== this.#live.has(instance)) instance.resetStreaks()
    this.#live = live
    this.#pools.retain(inUse)
    this.#table.swap(table)
  }

  /** Opens one listener per listen address; on a failure closes what it opened and throws. */
  async start(): Promise<ListeningService[]> {
    const listening: ListeningService[] = []
    try {
      for (const services of byListenAddress(this.#config.services)) {
        const { host, port: wanted } = services[0]!.listen
        const listener = new ProxyListener({
          host,
          port: wanted,
          // Services sharing a port share its connections: the smallest limit holds for all.
          maxConnections: Math.min(...services.map((service) => service.listen.maxConnections)),
          plans: services.map((service) => planFor(service, this.#parts)),
          table: this.#table,
          trustedProxies: this.#config.trustedProxies,
          logger: this.#logger,
          accessLog: this.#accessLog,
        })
        const closer = new GentleClose(listener.server)
        // In a cluster worker the primary owns the socket; every worker sees the port it bound.
        const port = await listener.listen()
        this.#closers.push(closer)
        for (const service of services) listening.push({ service: service.name, host, port })
      }
    } catch (error) {
      await this.stop(0)
      throw error
    }
    return listening
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
      await Promise.all(this.#closers.map((closer) => closer.close(graceMs)))
      this.#retry.stop()
      await this.#pools.closeAll(1_000)
      await this.#accessLog?.close(this.#logger)
    })()
    return this.#stopping
  }
}
