import type { Config, ServiceConfig } from './config/types.js'
import { ControlPlane } from './control/plane.js'
import { parseEndpoint } from './discovery/static.js'
import type { Logger } from './log.js'
import { ProxyListener } from './proxy/listener.js'
import { StatsRegistry } from './proxy/stats.js'
import { UpstreamRegistry } from './proxy/upstreams.js'

/** A started proxy: its listeners, its control plane, and how to stop it. */
export interface RunningProxy {
  readonly plane: ControlPlane
  /** Traffic counters per service and group, read by the metrics endpoint. */
  readonly stats: StatsRegistry
  /** Bound ports per service name. */
  readonly ports: ReadonlyMap<string, number>
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

/**
 * The composition root: config → facts (static and SRV discovery) → snapshot → listeners.
 */
export async function startProxy(config: Config, logger: Logger): Promise<RunningProxy> {
  const timeouts = new Map(config.services.map((service) => [service.name, service.timeouts]))
  const upstreams = new UpstreamRegistry((name) => timeouts.get(name)!)
  const plane = new ControlPlane(config, upstreams, logger)
  const stats = new StatsRegistry(config)
  for (const service of config.services) {
    for (const group of service.groups) {
      if (group.backends !== undefined) plane.setEndpoints(service.name, group.name, group.backends.map(parseEndpoint))
    }
  }

  const listeners: ProxyListener[] = []
  const ports = new Map<string, number>()
  try {
    for (const services of byListenAddress(config.services).values()) {
      const first = services[0]!
      const listener = new ProxyListener({
        host: first.listen.host,
        port: first.listen.port,
        services,
        table: plane.snapshot,
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
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0)))
    await upstreams.closeAll(0)
    throw error
  }

  let stopping: Promise<void> | undefined
  return {
    plane,
    stats,
    ports,
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        await Promise.all(listeners.map((listener) => listener.close(graceMs)))
        await upstreams.closeAll(1_000)
      })()
      return stopping
    },
  }
}
