import type { Config, ServiceConfig } from '../config/types.js'
import { formatAddress, type InstanceAddress } from '../discovery/types.js'
import { EventBus } from '../support/events.js'
import { expandBySlowStart } from '../routing/slow-start.js'
import type { Logger } from '../support/log.js'
import type { Upstream, UpstreamRegistry } from '../upstream/pools.js'
import { buildRouteTable, buildServiceRoute } from '../routing/table.js'
import type { RouteTable, ServiceRoute } from '../routing/types.js'
import { SnapshotHolder, type SnapshotSource } from '../routing/snapshot.js'

/** What SRV discovery says about one group (static groups have none). */
export interface GroupDiscoveryStatus {
  readonly srv: string
  /** A lookup has succeeded at least once. */
  readonly ready: boolean
  /** Failed (`error`) and empty lookups since start. */
  readonly failures: { error: number; empty: number }
  lastFailure?: string
}

/** Decides whether an instance may take new requests (health, readiness, ejection). */
export type LivenessCheck = (upstream: Upstream) => boolean

/**
 * Names an instance's state for status and `zdd_instances{state}` (`live`: it is in the current
 * snapshot). The default knows only live or not; the health module installs a finer one.
 */
export type InstanceStateReader = (upstream: Upstream, live: boolean) => string

/**
 * The snapshot as the control side reads it: a rebuild that publish() left pending happens before
 * `current` answers, so a reader never sees facts older than the last change. The data path reads
 * `ControlPlane.routes` instead, a plain holder without that check (an overridden getter on the
 * per-request read cost ~8 % CPU per request, side-by-side).
 */
class PlaneSnapshot implements SnapshotSource<RouteTable<Upstream>> {
  pending = false

  constructor(
    readonly tables: SnapshotHolder<RouteTable<Upstream>>,
    private readonly flush: () => void,
  ) {}

  get current(): RouteTable<Upstream> {
    if (this.pending) this.flush()
    return this.tables.current
  }

  /** Called after every swap (e.g. to push the snapshot to worker processes). */
  onSwap(listener: (next: RouteTable<Upstream>) => void): () => void {
    return this.tables.onSwap(listener)
  }
}

/**
 * Turns facts (desired weights, discovered endpoints, liveness) into RouteTable snapshots.
 * Every change builds a whole new table and swaps it in; instances that left every group drain.
 * Changes made in one go (one discovery answer, the health transitions of one sweep, the ~2 000
 * instances found at start-up) build one table, not one each: publish() marks the table stale
 * and the rebuild runs at the end of the event-loop turn (setImmediate) or at the next read of
 * `snapshot.current`, whichever comes first. The data path (`routes`) sees it at the end of the
 * turn: before any request read after the change was made.
 */
export class ControlPlane {
  /** The routing tables for control-side readers (status, metrics, changes, workers). */
  readonly snapshot: PlaneSnapshot
  /** The same tables for the data path: read once per request, no pending-rebuild check. */
  readonly routes: SnapshotSource<RouteTable<Upstream>>
  readonly #snapshot: PlaneSnapshot
  readonly events = new EventBus()
  /** SRV discovery status by `service/group`. */
  readonly discovery = new Map<string, GroupDiscoveryStatus>()
  readonly #weights = new Map<string, Readonly<Record<string, number>>>()
  readonly #endpoints = new Map<string, Map<string, readonly InstanceAddress[]>>()
  readonly #servicesByName: Map<string, ServiceConfig>
  #liveness: LivenessCheck = () => true
  /** Share of a full instance's traffic (0..1) during slow start; 1 when not ramping. */
  #weightOf: (upstream: Upstream) => number = () => 1
  #instanceState: InstanceStateReader = (upstream, live) =>
    upstream.draining ? 'draining' : live ? 'healthy' : 'unhealthy'
  #revision = 0

  constructor(
    readonly config: Config,
    readonly upstreams: UpstreamRegistry,
    readonly logger: Logger,
  ) {
    this.#servicesByName = new Map(config.services.map((service) => [service.name, service]))
    for (const service of config.services) {
      this.#weights.set(service.name, service.weights)
      this.#endpoints.set(service.name, new Map())
    }
    const tables = new SnapshotHolder(this.#build())
    this.#snapshot = new PlaneSnapshot(tables, this.#flush)
    this.snapshot = this.#snapshot
    this.routes = tables
  }

  service(name: string): ServiceConfig | undefined {
    return this.#servicesByName.get(name)
  }

  weightsOf(serviceName: string): Readonly<Record<string, number>> {
    return this.#weights.get(serviceName) ?? {}
  }

  /** Replaces a service's weights (already validated) and publishes a new snapshot. */
  setWeights(serviceName: string, weights: Readonly<Record<string, number>>): void {
    this.#weights.set(serviceName, Object.freeze({ ...weights }))
    this.publish()
  }

  /** The instances discovery found for one group. */
  setEndpoints(serviceName: string, groupName: string, endpoints: readonly InstanceAddress[]): void {
    const groups = this.#endpoints.get(serviceName)
    if (groups === undefined) return
    const before = new Set((groups.get(groupName) ?? []).map(formatAddress))
    const after = new Set(endpoints.map(formatAddress))
    groups.set(groupName, Object.freeze([...endpoints]))
    this.publish()
    for (const key of after) {
      if (!before.has(key)) this.events.publish('instance_added', { service: serviceName, group: groupName, instance: key })
    }
    for (const key of before) {
      if (!after.has(key)) this.events.publish('instance_removed', { service: serviceName, group: groupName, instance: key })
    }
  }

  endpointsOf(serviceName: string, groupName: string): readonly InstanceAddress[] {
    return this.#endpoints.get(serviceName)?.get(groupName) ?? []
  }

  /** Installs the liveness rule (health module) and republishes. */
  /** Installs the slow-start ramp (health module); the next publish applies it. */
  setInstanceWeights(weightOf: (upstream: Upstream) => number): void {
    this.#weightOf = weightOf
  }

  setLiveness(check: LivenessCheck): void {
    this.#liveness = check
    this.publish()
  }

  /** Installs how instance states are named (health module). */
  setInstanceStates(reader: InstanceStateReader): void {
    this.#instanceState = reader
  }

  /** The state of one instance, as status and metrics show it. */
  instanceState(upstream: Upstream, live: boolean): string {
    return this.#instanceState(upstream, live)
  }

  /**
   * Schedules a new snapshot from the current facts: built once for every publish() of the
   * current event-loop turn, at its end or at the first read of `snapshot.current` before.
   */
  publish(): void {
    if (this.#snapshot.pending) return
    this.#snapshot.pending = true
    // setImmediate, not a microtask: probe answers and ramp timers each run as their own task,
    // and one loop turn's worth of them should cost one build. Readers never wait for it.
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    if (!this.#snapshot.pending) return
    this.#snapshot.pending = false
    this.#snapshot.tables.swap(this.#build())
  }

  /** Every Upstream known to the current facts, live or not, per service and group. */
  *knownUpstreams(): Generator<{ service: string; group: string; upstream: Upstream }> {
    for (const service of this.config.services) {
      for (const group of service.groups) {
        for (const endpoint of this.endpointsOf(service.name, group.name)) {
          yield { service: service.name, group: group.name, upstream: this.upstreams.acquire(service.name, endpoint) }
        }
      }
    }
  }

  #build(): RouteTable<Upstream> {
    const inUse = new Set<Upstream>()
    const routes: ServiceRoute<Upstream>[] = []
    let drainMs = 0
    for (const service of this.config.services) {
      drainMs = Math.max(drainMs, service.drainSeconds * 1000)
      const live = new Map<string, Upstream[]>()
      for (const group of service.groups) {
        const instances: Upstream[] = []
        for (const endpoint of this.endpointsOf(service.name, group.name)) {
          const upstream = this.upstreams.acquire(service.name, endpoint)
          inUse.add(upstream)
          if (this.#liveness(upstream)) instances.push(upstream)
        }
        // A ramping instance is listed fewer times than the others, so routing stays pure.
        live.set(group.name, expandBySlowStart(instances, this.#weightOf))
      }
      routes.push(buildServiceRoute(service, this.weightsOf(service.name), live))
    }
    this.upstreams.retain(inUse, drainMs)
    return buildRouteTable(++this.#revision, routes)
  }
}
