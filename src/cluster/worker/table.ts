import type { Config } from '../../config/types.js'
import type { Upstream, UpstreamRegistry } from '../../upstream/pools.js'
import { buildRouteTable, buildServiceRoute } from '../../routing/table.js'
import type { RouteTable, ServiceRoute } from '../../routing/types.js'
import type { SnapshotMessage } from '../messages.js'

/** A worker's table built from a pushed snapshot, with what it needs to follow the instances. */
export interface WorkerTable {
  readonly table: RouteTable<Upstream>
  /** Every instance the snapshot names, live or standby. */
  readonly inUse: ReadonlySet<Upstream>
  /** Instances that take new requests. */
  readonly live: ReadonlySet<Upstream>
}

/**
 * Maps a pushed snapshot onto the worker's own Upstream objects (one pool per instance per
 * worker) and builds its RouteTable with the same pure functions the primary uses, so both
 * route alike. Services and groups come from the worker's config; the snapshot gives weights
 * and instances. Instances left out of the snapshot are drained by the caller (`retain`).
 */
export function buildWorkerTable(config: Config, snapshot: SnapshotMessage, upstreams: UpstreamRegistry): WorkerTable {
  const byName = new Map(snapshot.services.map((service) => [service.name, service]))
  const inUse = new Set<Upstream>()
  const live = new Set<Upstream>()
  const routes: ServiceRoute<Upstream>[] = []
  for (const service of config.services) {
    const pushed = byName.get(service.name)
    const weights: Record<string, number> = {}
    const instances = new Map<string, Upstream[]>()
    for (const group of pushed?.groups ?? []) {
      weights[group.name] = group.weight
      const list: Upstream[] = []
      for (const endpoint of group.instances) {
        const upstream = upstreams.acquire(service.name, endpoint)
        inUse.add(upstream)
        live.add(upstream)
        list.push(upstream)
      }
      for (const endpoint of group.standby) inUse.add(upstreams.acquire(service.name, endpoint))
      instances.set(group.name, list)
    }
    routes.push(buildServiceRoute(service, weights, instances))
  }
  return { table: buildRouteTable(snapshot.revision, routes), inUse, live }
}
