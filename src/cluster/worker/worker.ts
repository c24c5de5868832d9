import cluster from 'node:cluster'
import type { Pool } from 'undici'
import { loadConfig } from '../../config/load.js'
import type { Config, ServiceConfig } from '../../config/types.js'
import { createLogger, type Logger } from '../../support/log.js'
import { ProxyListener } from '../../proxy/listener.js'
import { startRetryPolicies } from '../../proxy/retry.js'
import { StatsRegistry } from '../../upstream/stats.js'
import { UpstreamRegistry, type Upstream } from '../../upstream/pools.js'
import { buildRouteTable, buildServiceRoute } from '../../routing/table.js'
import type { RouteTable } from '../../routing/types.js'
import { SnapshotHolder } from '../../routing/snapshot.js'
import { isToWorker, layoutOf, WORKER_ENV, type FromWorker, type SnapshotMessage, type ToWorker } from '../messages.js'
import { ReportBuilder } from './reports.js'
import { GentleClose } from '../../proxy/gentle-close.js'
import { buildWorkerTable } from './table.js'

/** How often a worker reports what changed (the primary's health sweeps at the same pace). */
const REPORT_MS = 250

function send(message: FromWorker, done?: () => void): void {
  if (!process.connected) {
    done?.()
    return
  }
  process.send!(message, undefined, {}, () => done?.())
}

/** Services grouped by the address they listen on, as in the single process. */
function byListenAddress(services: readonly ServiceConfig[]): ServiceConfig[][] {
  const groups = new Map<string, ServiceConfig[]>()
  for (const service of services) {
    const key = `${service.listen.host}|${service.listen.port}`
    groups.set(key, [...(groups.get(key) ?? []), service])
  }
  return [...groups.values()]
}

/** A table that routes nothing (every service answers 503), in force until the first snapshot. */
function emptyTable(config: Config): RouteTable<Upstream> {
  return buildRouteTable(0, config.services.map((service) => buildServiceRoute(service, service.weights, new Map())))
}

/**
 * One worker process of `serve --workers N`: only the data plane. It reads the config itself,
 * routes with the snapshots the primary pushes (and opens its listeners only after the first),
 * and reports load and outcomes back. The control side (discovery, health, admin, state) runs
 * once, in the primary.
 */
export class ClusterWorker {
  readonly #logger: Logger
  readonly #config: Config
  readonly #upstreams: UpstreamRegistry
  readonly #stats: StatsRegistry
  readonly #reports: ReportBuilder
  readonly #table: SnapshotHolder<RouteTable<Upstream>>
  readonly #retryPolicies: ReturnType<typeof startRetryPolicies>
  readonly #drainMs: number
  readonly #closers: GentleClose[] = []
  readonly #detached = new Map<number, Pool>()
  #byKey = new Map<string, Upstream>()
  #live: ReadonlySet<Upstream> = new Set()
  readonly #timer: NodeJS.Timeout
  #listening: Promise<void> | undefined
  #stopping = false

  constructor(config: Config, logger: Logger) {
    this.#config = config
    this.#logger = logger
    const timeouts = new Map(config.services.map((service) => [service.name, service.timeouts]))
    this.#upstreams = new UpstreamRegistry((name) => timeouts.get(name)!)
    this.#stats = new StatsRegistry(config)
    this.#reports = new ReportBuilder(this.#stats)
    this.#table = new SnapshotHolder(emptyTable(config))
    this.#retryPolicies = startRetryPolicies(config.services, this.#stats)
    this.#drainMs = Math.max(0, ...config.services.map((service) => service.drainSeconds * 1000))
    this.#timer = setInterval(() => this.#report(), REPORT_MS)
    this.#timer.unref()
  }

  /** Handles one message from the primary. */
  handle(message: ToWorker): void {
    switch (message.type) {
      case 'snapshot':
        this.#apply(message)
        if (!this.#stopping) this.#listening ??= this.#listen()
        return
      case 'detach': {
        const upstream = this.#byKey.get(`${message.service}|${message.key}`)
        if (upstream === undefined) {
          this.#reports.closedAtOnce(message.id)
          return
        }
        const { pool, closed } = this.#upstreams.detachPool(upstream)
        this.#detached.set(message.id, pool)
        void closed.then(() => this.#detached.delete(message.id))
        this.#reports.trackDetached(message.id, pool, closed)
        return
      }
      case 'destroy-detached':
        void this.#detached.get(message.id)?.destroy().catch(() => {})
        return
      case 'stop':
        void this.stop(message.graceMs)
    }
  }

  /** Swaps in the table of a pushed snapshot; instances it no longer names drain. */
  #apply(snapshot: SnapshotMessage): void {
    const { table, inUse, live } = buildWorkerTable(this.#config, snapshot, this.#upstreams)
    const byKey = new Map<string, Upstream>()
    for (const upstream of inUse) {
      byKey.set(`${upstream.serviceName}|${upstream.key}`, upstream)
      this.#reports.track(upstream)
      // Health clears an instance's streaks when it turns live; so does each worker.
      if (live.has(upstream) && !this.#live.has(upstream)) {
        upstream.consecutiveFailures = 0
        upstream.consecutive5xx = 0
      }
    }
    this.#byKey = byKey
    this.#live = live
    this.#upstreams.retain(inUse, this.#drainMs)
    this.#table.swap(table)
  }

  async #listen(): Promise<void> {
    const ports: { service: string; host: string; port: number }[] = []
    try {
      for (const services of byListenAddress(this.#config.services)) {
        const { host, port: wanted } = services[0]!.listen
        const listener = new ProxyListener({
          host,
          port: wanted,
          services,
          table: this.#table,
          trustedProxies: this.#config.trustedProxies,
          stats: this.#stats,
          logger: this.#logger,
          onFailure: (upstream, _group, kind) =>
            send({
              type: 'failure',
              service: upstream.serviceName,
              key: upstream.key,
              kind,
              consecutiveFailures: this.#reports.failureStreak(upstream),
            }),
        })
        const closer = new GentleClose(listener.server)
        // With node:cluster the primary owns the socket; every worker sees the port it bound.
        const port = await listener.listen()
        this.#closers.push(closer)
        for (const service of services) ports.push({ service: service.name, host, port })
      }
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
      return
    }
    if (!this.#stopping) send({ type: 'listening', listeners: ports })
  }

  #report(done?: () => void): void {
    const report = this.#reports.build()
    if (report === undefined) done?.()
    else send(report, done)
  }

  /** Stops accepting (the primary routes new connections elsewhere), lets in-flight requests finish, exits. */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.#logger.info({ event: 'worker_stopping', graceMs }, 'worker stopping: finishing in-flight requests')
    await this.#listening?.catch(() => {})
    await Promise.all(this.#closers.map((closer) => closer.close(graceMs)))
    clearInterval(this.#timer)
    this.#retryPolicies.stop()
    await this.#upstreams.closeAll(1_000)
    // The last counts reach the primary before the channel closes.
    await new Promise<void>((resolve) => this.#report(resolve))
    this.#logger.info({ event: 'worker_stopped' }, 'worker stopped')
    setTimeout(() => process.exit(0), 5_000).unref()
    if (cluster.worker?.isConnected()) cluster.worker.disconnect()
  }
}

/** Tells the primary why this worker cannot run, then exits 1. */
function fail(message: string): void {
  send({ type: 'fatal', message }, () => process.exit(1))
  setTimeout(() => process.exit(1), 1_000).unref()
}

/** The worker process's entry: see ClusterWorker. */
export async function runWorker(): Promise<void> {
  const logger = createLogger('zdd-proxy').child({ worker: cluster.worker?.id ?? 0 })
  // The primary orchestrates stops and restarts; a Ctrl-C or hangup reaching the whole process
  // group must not cut this worker's requests.
  process.on('SIGINT', () => {})
  process.on('SIGHUP', () => {})
  const early: ToWorker[] = []
  let worker: ClusterWorker | undefined
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return
    if (worker === undefined) early.push(message)
    else worker.handle(message)
  })
  let config: Config
  try {
    config = await loadConfig(process.env[WORKER_ENV.config] ?? '')
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
    return
  }
  if (layoutOf(config) !== process.env[WORKER_ENV.layout]) {
    fail('the config file changed since the proxy started (services, listen addresses or groups); restart the proxy to apply it')
    return
  }
  const running = new ClusterWorker(config, logger)
  worker = running
  process.on('SIGTERM', () => void running.stop(Math.max(1_000, ...config.services.map((service) => service.drainSeconds * 1000))))
  for (const message of early.splice(0)) running.handle(message)
  send({ type: 'hello' })
}
