/** The read side of the admin API: what `GET /v1/services` and `zdd-proxy status` show. */

import { equivalentWeights } from '../routing/weights.js'
import type { HistoryEntry, Weights } from '../state/store.js'
import { historyOf } from '../state/store.js'
import type { ChangeController } from './changes.js'
import type { DrainStatus } from './drain.js'
import type { ControlPlane } from './plane.js'
import type { DataPlaneLink } from './ports.js'
import type { ObservedShare, SplitAccuracy } from './split-accuracy.js'

/** History entries shown per service. */
const HISTORY_SHOWN = 10

export interface InstanceView {
  readonly instance: string
  readonly state: string
  /** In the current snapshot: takes new requests. */
  readonly live: boolean
  readonly inflight: number
  /** Passive ejections health counts against the instance. */
  readonly ejections: number
  /** Its group is being drained by a running cut-over (its old connections finish their requests). */
  readonly draining: boolean
}

export interface GroupView {
  readonly name: string
  readonly weight: number
  /** Share of new traffic in the current snapshot (0..1). */
  readonly share: number
  readonly instances: readonly InstanceView[]
  /**
   * Observed over `ServiceView.observedShare`'s window: the group's share of requests and of
   * distinct clients next to its configured share; null before the first sample.
   */
  readonly observed: ObservedShare | null
  /** SRV discovery of the group, when it has one. */
  readonly discovery?: { readonly srv: string; readonly ready: boolean; readonly lastFailure?: string }
}

export interface ServiceView {
  readonly name: string
  /** Desired-state revision (for If-Match). */
  readonly revision: number
  /** Revision of the routing snapshot in force. */
  readonly routeRevision: number
  readonly weights: Weights
  /**
   * The config file's weights, shown only when they differ from `weights`: the desired weights from
   * the state store win over the file's (at start and at every reload).
   */
  readonly configWeights?: Weights
  readonly groups: readonly GroupView[]
  /** The window the groups' `observed` shares cover; null before the first sample. */
  readonly observedShare: { readonly windowSeconds: number; readonly seconds: number; readonly judged: boolean } | null
  /** The running or last cut-over since start. */
  readonly cutover: DrainStatus | null
  /** The latest changes of this service, oldest first. */
  readonly history: readonly HistoryEntry[]
}

/** Where the views come from. */
export interface StatusSources {
  readonly plane: ControlPlane
  readonly changes: ChangeController
  readonly dataPlanes: Pick<DataPlaneLink, 'inflightOf'>
  /** Observed shares; absent where nothing samples them. */
  readonly splits?: Pick<SplitAccuracy, 'splitOf'>
}

/** One service's view, or undefined when there is no such service. */
export function serviceView({ plane, changes, dataPlanes, splits }: StatusSources, name: string): ServiceView | undefined {
  const config = plane.service(name)
  const table = plane.snapshot.current
  const route = table.servicesByName.get(name)
  if (config === undefined || route === undefined) return undefined
  const weights = plane.weightsOf(name)
  const cutover = changes.drains.statusOf(name)
  const drainingGroups = cutover?.phase === 'draining' ? cutover.from : []
  const split = splits?.splitOf(name)
  const groups = config.groups.map((group): GroupView => {
    const groupRoute = route.groupsByName.get(group.name)
    const live = new Set(groupRoute?.instances ?? [])
    const draining = drainingGroups.includes(group.name)
    const instances = plane.instancesOf(name, group.name).map(
      (instance): InstanceView => ({
        instance: instance.address,
        state: plane.healthOf(instance),
        live: live.has(instance),
        inflight: dataPlanes.inflightOf(instance.id),
        ejections: plane.ejectionsOf(instance),
        draining,
      }),
    )
    const discovery = plane.discovery.get(`${name}/${group.name}`)
    const view: GroupView = {
      name: group.name,
      weight: groupRoute?.weight ?? 0,
      share: groupRoute?.share ?? 0,
      observed: split?.groups[group.name] ?? null,
      instances,
    }
    if (discovery === undefined) return view
    const { srv, ready, lastFailure } = discovery
    return { ...view, discovery: lastFailure === undefined ? { srv, ready } : { srv, ready, lastFailure } }
  })
  return {
    name,
    revision: changes.revision,
    routeRevision: table.revision,
    weights,
    ...(equivalentWeights(weights, config.weights) ? {} : { configWeights: config.weights }),
    groups,
    observedShare: split === undefined ? null : { windowSeconds: split.windowSeconds, seconds: split.seconds, judged: split.judged },
    cutover: cutover ?? null,
    history: historyOf(changes.state, name).slice(-HISTORY_SHOWN),
  }
}

/** Every service's view, in config order. */
export function servicesView(from: StatusSources): { revision: number; services: ServiceView[] } {
  const services: ServiceView[] = []
  for (const service of from.plane.config.services) services.push(serviceView(from, service.name)!)
  return { revision: from.changes.revision, services }
}

/** Why the proxy is not ready: services that cannot route any request. Empty means ready. */
export function notReadyReasons(plane: ControlPlane): string[] {
  const reasons: string[] = []
  for (const service of plane.snapshot.current.services) {
    if (service.candidates.length === 0) reasons.push(`service ${service.name}: no group with weight > 0 has a live instance`)
    for (const group of service.groups) {
      const discovery = plane.discovery.get(`${service.name}/${group.name}`)
      if (discovery !== undefined && !discovery.ready && group.instances.length === 0) {
        reasons.push(`service ${service.name} group ${group.name}: SRV ${discovery.srv} not resolved yet`)
      }
    }
  }
  return reasons
}
