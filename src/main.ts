import type { Config, ServiceConfig } from './config/types.js'
import { ControlPlane, type GroupDiscoveryStatus } from './control/plane.js'
import { prepareControl } from './control/start.js'
import { DiscoveryWatcher, createResolver } from './discovery/watcher.js'
import { HealthMonitor } from './health/monitor.js'
import type { Logger } from './support/log.js'
import { ProxyListener } from './proxy/listener.js'
import { startRetryPolicies } from './proxy/retry.js'
import { StatsRegistry } from './upstream/stats.js'
import { UpstreamRegistry } from './upstream/pools.js'

/** A started proxy: its listeners, its control plane, and how to stop it. */
export interface RunningProxy {
  readonly plane: ControlPlane
  /** Instance states (health, readiness, ejection): `instanceStates()`, `statesOf(service, group)`. */
  readonly health: HealthMonitor
  /** Traffic counters per service and group, read by the metrics endpoint. */
  readonly stats: StatsRegistry
  /** Bound ports per service name. */
  readonly ports: ReadonlyMap<string, number>
  /** Bound port of the admin API; undefined without `admin` in the config. */
  readonly adminPort: number | undefined
  /** Stops accepting, lets in-flight requests finish within `graceMs`, closes upstream pools. */
  stop(graceMs?: number): Promise<void>
}

/** Services grouped by the address they listen on. */
function byListenAddress(services: readonly ServiceConfig[]): Map<string, ServiceConfig[]> {
  const groups = new Map<string, ServiceConfig[]>()
  for (const service of services) {
    const key = `${service.listen.host}|${service.listen.port}`
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [service])
    else list.push(service)
  }
  return groups
}

export interface StartOptions {
  /**
   * `false`: open no proxy listener (`ports` stays empty). Cluster mode's primary runs the control
   * side this way and its workers run the listeners.
   */
  readonly listeners?: boolean
}

/**
 * The composition root: config → facts (static and SRV discovery) → snapshot → listeners.
 */
export async function startProxy(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningProxy> {
  const timeouts = new Map(config.services.map((service) => [service.name, service.timeouts]))
  const upstreams = new UpstreamRegistry((name) => timeouts.get(name)!)
  const plane = new ControlPlane(config, upstreams, logger)
  const stats = new StatsRegistry(config)
  // Health installs the liveness rule before discovery reports instances, so none is live unchecked.
  const health = new HealthMonitor(plane, logger)
  health.start()
  plane.setInstanceWeights((upstream) => health.weightOf(upstream))
  const retryPolicies = startRetryPolicies(config.services, stats)
  // The saved desired state applies before any listener opens (an unusable state file stops the start).
  const control = await prepareControl(config, plane, logger)
  const watchers = startDiscovery(config, plane, logger)
  // Wait for the first answers (bounded) so a healthy start serves at once; a dead DNS server
  // doesn't stop the start: its groups stay empty until it answers.
  const firstLookups = Promise.all(watchers.map((watcher) => watcher.start()))
  const lookupDeadline = new Promise<void>((resolve) => setTimeout(resolve, config.dns.timeoutMs * 2 + 500).unref())
  await Promise.race([firstLookups, lookupDeadline])
  health.markStarted()

  const listeners: ProxyListener[] = []
  const ports = new Map<string, number>()
  let adminPort: number | undefined
  try {
    for (const services of options.listeners === false ? [] : byListenAddress(config.services).values()) {
      const first = services[0]!
      const listener = new ProxyListener({
        host: first.listen.host,
        port: first.listen.port,
        services,
        table: plane.routes,
        trustedProxies: config.trustedProxies,
        stats,
        logger,
      })
      const port = await listener.listen()
      listeners.push(listener)
      for (const service of services) {
        ports.set(service.name, port)
        logger.info({ event: 'listening', service: service.name, host: first.listen.host, port }, 'proxy listening')
      }
    }
    adminPort = await control.listen(stats)
  } catch (error) {
    await control.close()
    for (const watcher of watchers) watcher.stop()
    health.stop()
    retryPolicies.stop()
    await Promise.all(listeners.map((listener) => listener.close(0)))
    await upstreams.closeAll(0)
    throw error
  }

  let stopping: Promise<void> | undefined
  return {
    plane,
    health,
    stats,
    ports,
    adminPort,
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        await control.close()
        for (const watcher of watchers) watcher.stop()
        health.stop()
        retryPolicies.stop()
        await Promise.all(listeners.map((listener) => listener.close(graceMs)))
        await upstreams.closeAll(1_000)
      })()
      return stopping
    },
  }
}

/**
 * One DiscoveryWatcher per group: static groups answer their `backends`, SRV groups ask DNS.
 * InstanceAddress changes become new snapshots; failures become `discovery_error` events and log lines.
 */
function startDiscovery(config: Config, plane: ControlPlane, logger: Logger): DiscoveryWatcher[] {
  const watchers: DiscoveryWatcher[] = []
  for (const service of config.services) {
    for (const group of service.groups) {
      const watcher: DiscoveryWatcher = new DiscoveryWatcher({
        resolver: createResolver(group, config.dns),
        refreshMinSeconds: config.dns.refreshMinSeconds,
        refreshMaxSeconds: config.dns.refreshMaxSeconds,
        onAddresses: (endpoints) => plane.setEndpoints(service.name, group.name, endpoints),
        onError: (failure) => {
          if (status === undefined) return
          status.failures[failure.kind]++
          status.lastFailure = failure.reason
          const fields = { service: service.name, group: group.name, srv: group.srv, ...failure }
          logger.warn({ event: 'discovery_error', ...fields }, 'discovery lookup failed')
          plane.events.publish('discovery_error', fields)
        },
      })
      const status: GroupDiscoveryStatus | undefined =
        group.srv === undefined
          ? undefined
          : {
              srv: group.srv,
              get ready() {
                return watcher.ready
              },
              failures: { error: 0, empty: 0 },
            }
      if (status !== undefined) plane.discovery.set(`${service.name}/${group.name}`, status)
      watchers.push(watcher)
    }
  }
  return watchers
}
