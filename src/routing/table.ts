import type { ServiceConfig } from '../config/types.js'
import { hashString } from './rendezvous.js'
import type { GroupRoute, RouteTable, ServiceRoute } from './types.js'

const NONE: ReadonlySet<string> = new Set()

/**
 * Builds a frozen ServiceRoute from desired weights and the live instances of each group.
 * Groups absent from `liveInstances` have none; `draining` names the groups a cut-over drains.
 */
export function buildServiceRoute<I>(
  config: ServiceConfig,
  weights: Readonly<Record<string, number>>,
  liveInstances: ReadonlyMap<string, readonly I[]>,
  draining: ReadonlySet<string> = NONE,
): ServiceRoute<I> {
  let candidateTotal = 0
  for (const group of config.groups) {
    const weight = Object.hasOwn(weights, group.name) ? weights[group.name]! : 0
    if (weight > 0 && (liveInstances.get(group.name)?.length ?? 0) > 0) candidateTotal += weight
  }
  const groups: GroupRoute<I>[] = config.groups.map((group) => {
    const weight = Object.hasOwn(weights, group.name) ? weights[group.name]! : 0
    const instances = Object.freeze([...(liveInstances.get(group.name) ?? [])])
    const share = weight > 0 && instances.length > 0 ? weight / candidateTotal : 0
    return Object.freeze({ name: group.name, hash: hashString(group.name), weight, share, instances, draining: draining.has(group.name) })
  })
  return Object.freeze({
    name: config.name,
    config,
    groups: Object.freeze(groups),
    groupsByName: new Map(groups.map((group) => [group.name, group])),
    candidates: Object.freeze(groups.filter((group) => group.share > 0)),
    weighted: Object.freeze(groups.filter((group) => group.weight > 0)),
  })
}

/** Wraps built services into a frozen, versioned table. */
export function buildRouteTable<I>(revision: number, services: readonly ServiceRoute<I>[]): RouteTable<I> {
  return Object.freeze({
    revision,
    services: Object.freeze([...services]),
    servicesByName: new Map(services.map((service) => [service.name, service])),
  })
}
