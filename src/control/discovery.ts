import type { Config, GroupConfig, ServiceConfig } from '../config/types.js'
import { createResolver, DiscoveryWatcher } from '../discovery/watcher.js'
import type { Logger } from '../support/log.js'
import type { ControlPlane, GroupDiscoveryStatus } from './plane.js'

/** The discovery of every group, feeding the plane. */
export interface RunningDiscovery {
  /** Resolves once every group answered once, or after the first lookups' deadline. */
  readonly firstAnswers: Promise<void>
  /**
   * A reload: groups whose source (SRV name, instance list, DNS settings) is unchanged keep their
   * watcher; the others get a new one (a removed group's instances are the plane's to drop).
   * Resolves once the new watchers answered once, or after the lookups' deadline.
   */
  reconfigure(config: Config): Promise<void>
  stop(): void
}

interface Watched {
  readonly watcher: DiscoveryWatcher
  /** What the watcher was made from: a group with another source needs a new one. */
  readonly source: string
}

/**
 * One DiscoveryWatcher per group: static groups answer their list, SRV groups ask DNS. Address
 * changes become the plane's instances; failures become `discovery_error` events, log lines and
 * the group's discovery status (status, `/readyz`, metrics).
 */
export function startDiscovery(config: Config, plane: ControlPlane, logger: Logger): RunningDiscovery {
  const watched = new Map<string, Watched>()

  const watch = (config: Config, service: ServiceConfig, group: GroupConfig): DiscoveryWatcher => {
    const watcher: DiscoveryWatcher = new DiscoveryWatcher({
      resolver: createResolver(group, config.dns),
      refreshMinSeconds: config.dns.refreshMinSeconds,
      refreshMaxSeconds: config.dns.refreshMaxSeconds,
      onAddresses: (addresses) => plane.setInstances(service.name, group.name, addresses),
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
    else plane.discovery.delete(`${service.name}/${group.name}`)
    return watcher
  }

  /** Starts the watchers `config` needs and does not have; resolves as `firstAnswers` says. */
  const follow = (config: Config): Promise<void> => {
    const started: DiscoveryWatcher[] = []
    const wanted = new Set<string>()
    for (const service of config.services) {
      for (const group of service.groups) {
        const key = `${service.name}/${group.name}`
        const source = JSON.stringify([group.srv, group.instances, group.srv === undefined ? null : config.dns])
        wanted.add(key)
        const current = watched.get(key)
        if (current !== undefined && current.source === source) continue
        current?.watcher.stop()
        const watcher = watch(config, service, group)
        watched.set(key, { watcher, source })
        started.push(watcher)
      }
    }
    for (const [key, current] of watched) {
      if (wanted.has(key)) continue
      current.watcher.stop()
      watched.delete(key)
    }
    // Wait for the first answers (bounded) so a healthy start serves at once; a dead DNS server
    // doesn't stop the start: its groups stay empty until it answers.
    const lookups = Promise.all(started.map((watcher) => watcher.start())).then(() => {})
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.dns.timeoutMs * 2 + 500).unref())
    return Promise.race([lookups, deadline])
  }

  return {
    firstAnswers: follow(config),
    reconfigure: follow,
    stop() {
      for (const { watcher } of watched.values()) watcher.stop()
    },
  }
}
