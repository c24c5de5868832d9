import type { Config } from '../config/types.js'
import { createResolver, DiscoveryWatcher } from '../discovery/watcher.js'
import type { Logger } from '../support/log.js'
import type { ControlPlane, GroupDiscoveryStatus } from './plane.js'

/** The discovery of every group, feeding the plane. */
export interface RunningDiscovery {
  /** Resolves once every group answered once, or after the first lookups' deadline. */
  readonly firstAnswers: Promise<void>
  stop(): void
}

/**
 * One DiscoveryWatcher per group: static groups answer their list, SRV groups ask DNS. Address
 * changes become the plane's instances; failures become `discovery_error` events, log lines and
 * the group's discovery status (status, `/readyz`, metrics).
 */
export function startDiscovery(config: Config, plane: ControlPlane, logger: Logger): RunningDiscovery {
  const watchers: DiscoveryWatcher[] = []
  for (const service of config.services) {
    for (const group of service.groups) {
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
      watchers.push(watcher)
    }
  }
  // Wait for the first answers (bounded) so a healthy start serves at once; a dead DNS server
  // doesn't stop the start: its groups stay empty until it answers.
  const lookups = Promise.all(watchers.map((watcher) => watcher.start())).then(() => {})
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.dns.timeoutMs * 2 + 500).unref())
  return {
    firstAnswers: Promise.race([lookups, deadline]),
    stop() {
      for (const watcher of watchers) watcher.stop()
    },
  }
}
