import type { ServiceConfig } from '../config/types.js'
import type { SnapshotSpec } from '../routing/spec.js'
import { buildRouteTable, buildServiceRoute } from '../routing/table.js'
import type { RouteTable, ServiceRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import type { InstancePools } from '../upstream/pools.js'

/** A data plane's table built from a spec, with what it needs to follow the instances. */
export interface DataPlaneTable {
  readonly table: RouteTable<Instance>
  /** Every instance the spec names, live or standby: their pools stay. */
  readonly inUse: ReadonlySet<Instance>
  /** Instances that take new requests. */
  readonly live: ReadonlySet<Instance>
}

/**
 * Maps a spec onto this data plane's own Instance objects (one pool per instance) and builds its
 * RouteTable with the same pure functions the control plane uses, so both route alike. Services
 * and groups come from the data plane's config; the spec gives weights and instances.
 */
export function tableFromSpec(services: readonly ServiceConfig[], spec: SnapshotSpec, pools: InstancePools): DataPlaneTable {
  const byName = new Map(spec.services.map((service) => [service.name, service]))
  const inUse = new Set<Instance>()
  const live = new Set<Instance>()
  const routes: ServiceRoute<Instance>[] = []
  for (const service of services) {
    const weights: Record<string, number> = {}
    const instances = new Map<string, Instance[]>()
    const draining = new Set<string>()
    for (const group of byName.get(service.name)?.groups ?? []) {
      weights[group.name] = group.weight
      if (group.draining) draining.add(group.name)
      const list: Instance[] = []
      for (const spec of group.live) {
        const instance = pools.acquire(service.name, spec)
        inUse.add(instance)
        live.add(instance)
        list.push(instance)
      }
      for (const spec of group.standby) inUse.add(pools.acquire(service.name, spec))
      instances.set(group.name, list)
    }
    routes.push(buildServiceRoute(service, weights, instances, draining))
  }
  return { table: buildRouteTable(spec.revision, routes), inUse, live }
}
