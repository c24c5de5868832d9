import type { Config, ServiceConfig } from '../config/types.js'
import { formatAddress, type InstanceAddress } from '../discovery/types.js'
import { expandBySlowStart } from '../routing/slow-start.js'
import { SnapshotHolder, type SnapshotSource } from '../routing/snapshot.js'
import type { GroupSpec, ServiceSpec, SnapshotSpec } from '../routing/spec.js'
import { buildRouteTable, buildServiceRoute } from '../routing/table.js'
import type { RouteTable, ServiceRoute } from '../routing/types.js'
import { EventBus } from '../support/events.js'
import type { Logger } from '../support/log.js'
import type { InstanceId, KnownInstance } from '../upstream/instance.js'

/** What SRV discovery says about one group (static groups have none). */
export interface GroupDiscoveryStatus {
  readonly srv: string
  /** A lookup has succeeded at least once. */
  readonly ready: boolean
  /** Failed (`error`) and empty lookups since start. */
  readonly failures: { error: number; empty: number }
  lastFailure?: string
}

/** Health's verdict on one instance, as the plane builds snapshots and status from it. */
export interface InstanceVerdict {
  /** Health's state, as status and `zdd_instances{state}` show it. */
  readonly health: string
  /** Takes new requests. */
  readonly live: boolean
  /** Share of a full instance's traffic during slow start, in (0, 1]; 1 when not ramping. */
  readonly weight: number
  /** Passive ejections health counts against the instance, when it says. */
  readonly ejections?: number
}

const NOT_DRAINING: ReadonlySet<string> = new Set()

/** Until health has judged an instance: not live. */
const UNJUDGED: InstanceVerdict = Object.freeze({ health: 'starting', live: false, weight: 1 })

/**
 * The snapshot as control-side readers see it: a rebuild that publish() left pending happens before
 * `current` answers, so a reader never sees facts older than the last change.
 */
class FlushingSnapshot implements SnapshotSource<RouteTable<KnownInstance>> {
  pending = false

  constructor(
    readonly tables: SnapshotHolder<RouteTable<KnownInstance>>,
    private readonly flush: () => void,
  ) {}

  get current(): RouteTable<KnownInstance> {
    if (this.pending) this.flush()
    return this.tables.current
  }
}

/**
 * Turns facts into snapshots: the instances discovery reports (each given an id), health's verdicts
 * and the desired weights. Every change builds a whole new RouteTable of KnownInstances (for status,
 * readiness and cut-over checks) and its SnapshotSpec, which goes to every `onSpec` listener (the
 * data planes). Changes made in one go (one discovery answer, the health transitions of one sweep,
 * the ~2 000 instances found at start-up) build one table, not one each: publish() marks the table
 * stale and the rebuild runs at the end of the event-loop turn (setImmediate) or at the next read of
 * `snapshot.current` or `spec`, whichever comes first.
 */
export class ControlPlane {
  /** The current table; reading it applies a pending rebuild first. */
  readonly snapshot: SnapshotSource<RouteTable<KnownInstance>>
  readonly events = new EventBus()
  /** SRV discovery status by `service/group`. */
  readonly discovery = new Map<string, GroupDiscoveryStatus>()
  readonly #snapshot: FlushingSnapshot
  #config: Config
  #servicesByName: Map<string, ServiceConfig>
  readonly #weights = new Map<string, Readonly<Record<string, number>>>()
  /** Known instances per service, then group, in discovery's order. */
  readonly #known = new Map<string, Map<string, readonly KnownInstance[]>>()
  readonly #byId = new Map<InstanceId, KnownInstance>()
  readonly #verdicts = new Map<InstanceId, InstanceVerdict>()
  /** Groups a running cut-over drains, per service: no override may reach them. */
  readonly #draining = new Map<string, ReadonlySet<string>>()
  readonly #specListeners = new Set<(spec: SnapshotSpec) => void>()
  readonly #knownListeners = new Set<(added: readonly KnownInstance[], removed: readonly KnownInstance[]) => void>()
  #spec: SnapshotSpec
  #revision = 0
  #nextId = 1

  constructor(
    config: Config,
    readonly logger: Logger,
  ) {
    this.#config = config
    this.#servicesByName = new Map(config.services.map((service) => [service.name, service]))
    for (const service of config.services) {
      this.#weights.set(service.name, service.weights)
      this.#known.set(service.name, new Map())
    }
    const { table, spec } = this.#build()
    this.#spec = spec
    this.#snapshot = new FlushingSnapshot(new SnapshotHolder(table), this.#flush)
    this.snapshot = this.#snapshot
  }

  /** The config in force (a reload replaces it). */
  get config(): Config {
    return this.#config
  }

  /**
   * A reload: services, groups and their `weights` (already reconciled with the desired state)
   * from `config`. Instances of services and groups it no longer has are removed (they drain);
   * those of groups that stay are kept, with their ids and verdicts, until discovery says otherwise.
   */
  reconfigure(config: Config, weights: ReadonlyMap<string, Readonly<Record<string, number>>>): void {
    const groupsOf = new Map(config.services.map((service) => [service.name, new Set(service.groups.map((group) => group.name))]))
    for (const [serviceName, groups] of this.#known) {
      const kept = groupsOf.get(serviceName)
      for (const group of groups.keys()) if (kept === undefined || !kept.has(group)) this.setInstances(serviceName, group, [])
    }
    this.#config = config
    this.#servicesByName = new Map(config.services.map((service) => [service.name, service]))
    const known = new Map<string, Map<string, readonly KnownInstance[]>>()
    for (const service of config.services) {
      const before = this.#known.get(service.name)
      const groups = new Map<string, readonly KnownInstance[]>()
      for (const group of service.groups) groups.set(group.name, before?.get(group.name) ?? [])
      known.set(service.name, groups)
    }
    this.#known.clear()
    for (const [name, groups] of known) this.#known.set(name, groups)
    this.#weights.clear()
    for (const service of config.services) this.#weights.set(service.name, Object.freeze({ ...(weights.get(service.name) ?? service.weights) }))
    for (const [name, groups] of this.#draining) {
      const kept = groupsOf.get(name)
      if (kept === undefined) this.#draining.delete(name)
      else this.#draining.set(name, new Set([...groups].filter((group) => kept.has(group))))
    }
    for (const key of this.discovery.keys()) {
      const slash = key.indexOf('/')
      if (!groupsOf.get(key.slice(0, slash))?.has(key.slice(slash + 1))) this.discovery.delete(key)
    }
    this.publish()
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

  /**
   * The instances discovery found for one group. An instance keeps its id while it stays; one that
   * left and comes back is a new instance with a new id.
   */
  setInstances(serviceName: string, groupName: string, addresses: readonly InstanceAddress[]): void {
    const groups = this.#known.get(serviceName)
    if (groups === undefined) return
    const before = new Map((groups.get(groupName) ?? []).map((instance) => [instance.address, instance]))
    const after: KnownInstance[] = []
    const added: KnownInstance[] = []
    for (const { host, port } of addresses) {
      const address = formatAddress({ host, port })
      let instance = before.get(address)
      if (instance === undefined) {
        instance = Object.freeze({ id: this.#nextId++, service: serviceName, group: groupName, address, host, port })
        this.#byId.set(instance.id, instance)
        added.push(instance)
      } else before.delete(address)
      after.push(instance)
    }
    groups.set(groupName, Object.freeze(after))
    for (const gone of before.values()) {
      this.#byId.delete(gone.id)
      this.#verdicts.delete(gone.id)
    }
    this.publish()
    for (const instance of added) this.events.publish('instance_added', { service: serviceName, group: groupName, instance: instance.address })
    for (const gone of before.values()) this.events.publish('instance_removed', { service: serviceName, group: groupName, instance: gone.address })
    const removed = [...before.values()]
    if (added.length > 0 || removed.length > 0) for (const listener of this.#knownListeners) listener(added, removed)
  }

  /** The instances discovery knows for one group. */
  instancesOf(serviceName: string, groupName: string): readonly KnownInstance[] {
    return this.#known.get(serviceName)?.get(groupName) ?? []
  }

  /** Every instance discovery knows, live or not. */
  *knownInstances(): Generator<KnownInstance> {
    for (const groups of this.#known.values()) for (const instances of groups.values()) yield* instances
  }

  /** Calls `listener` with the instances discovery added and removed; returns the unsubscribe. */
  onKnownChanged(listener: (added: readonly KnownInstance[], removed: readonly KnownInstance[]) => void): () => void {
    this.#knownListeners.add(listener)
    return () => this.#knownListeners.delete(listener)
  }

  /** Health's verdict on a known instance; a change of liveness or slow-start weight republishes. */
  setVerdict(id: InstanceId, verdict: InstanceVerdict): void {
    if (!this.#byId.has(id)) return
    const before = this.#verdicts.get(id) ?? UNJUDGED
    this.#verdicts.set(id, verdict)
    if (before.live !== verdict.live || (verdict.live && before.weight !== verdict.weight)) this.publish()
  }

  /** The health of an instance, as status and metrics show it. */
  healthOf(instance: KnownInstance): string {
    return (this.#verdicts.get(instance.id) ?? UNJUDGED).health
  }

  /** The groups a cut-over of `service` drains now (empty when none); republishes. */
  setDrainingGroups(service: string, groups: readonly string[]): void {
    this.#draining.set(service, new Set(groups))
    this.publish()
  }

  /** Passive ejections of an instance, as health last counted them (status). */
  ejectionsOf(instance: KnownInstance): number {
    return this.#verdicts.get(instance.id)?.ejections ?? 0
  }

  /** The current spec; reading it applies a pending rebuild first. */
  get spec(): SnapshotSpec {
    if (this.#snapshot.pending) this.#flush()
    return this.#spec
  }

  /** Calls `listener` with every new spec; returns the unsubscribe. */
  onSpec(listener: (spec: SnapshotSpec) => void): () => void {
    this.#specListeners.add(listener)
    return () => this.#specListeners.delete(listener)
  }

  /**
   * Schedules a new snapshot from the current facts: built once for every publish() of the
   * current event-loop turn, at its end or at the first read before.
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
    const { table, spec } = this.#build()
    this.#spec = spec
    this.#snapshot.tables.swap(table)
    for (const listener of this.#specListeners) listener(spec)
  }

  #build(): { table: RouteTable<KnownInstance>; spec: SnapshotSpec } {
    const revision = ++this.#revision
    const routes: ServiceRoute<KnownInstance>[] = []
    const services: ServiceSpec[] = []
    const weightOf = (instance: KnownInstance) => (this.#verdicts.get(instance.id) ?? UNJUDGED).weight
    for (const service of this.#config.services) {
      const weights = this.weightsOf(service.name)
      const draining = this.#draining.get(service.name) ?? NOT_DRAINING
      const liveByGroup = new Map<string, KnownInstance[]>()
      const groups: GroupSpec[] = []
      for (const group of service.groups) {
        const live: KnownInstance[] = []
        const standby: KnownInstance[] = []
        for (const instance of this.instancesOf(service.name, group.name)) {
          if ((this.#verdicts.get(instance.id) ?? UNJUDGED).live) live.push(instance)
          else standby.push(instance)
        }
        // A ramping instance is listed fewer times than the others, so routing stays pure.
        const listed = expandBySlowStart(live, weightOf)
        liveByGroup.set(group.name, listed)
        const weight = Object.hasOwn(weights, group.name) ? weights[group.name]! : 0
        groups.push({ name: group.name, weight, live: listed, standby, draining: draining.has(group.name) })
      }
      routes.push(buildServiceRoute(service, weights, liveByGroup, draining))
      services.push({ name: service.name, groups })
    }
    return { table: buildRouteTable(revision, routes), spec: { revision, services } }
  }
}
