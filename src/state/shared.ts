/**
 * The contract of a state store several replicas share (etcd): besides compare-and-set commits it
 * tells each replica about changes the others made, who the replicas are, and how far each has
 * drained a cut-over. Kept apart from the etcd client so the control side never sees it.
 */
import { hostname } from 'node:os'
import type { DesiredState, StateStore } from './store.js'

/** This process's name among replicas when the config names none: `<hostname>-<pid>`. */
export function defaultReplicaId(): string {
  return `${hostname()}-${process.pid}`
}

/** One replica as it registered itself (under its lease, so it disappears when the replica does). */
export interface ReplicaRecord {
  readonly id: string
  /** The desired-state revision this replica routes with. */
  readonly appliedRevision: number
  /** ISO time the replica last wrote its record. */
  readonly lastSeen: string
  readonly startedAt: string
}

/** How far one replica has drained a service's cut-over (written under its lease). */
export interface DrainRecord {
  readonly replica: string
  readonly service: string
  /** The cut-over's revision. */
  readonly revision: number
  /** `draining`, or how the replica's own drain ended (`drained`, `deadline`, `superseded`). */
  readonly phase: string
  /** Requests still running on the old groups' connections of this replica. */
  readonly inflight: number
  readonly counts?: Readonly<Record<string, number>>
}

/** One group's traffic in a rollout's analysis window, as one replica counted it. */
export interface WindowCounts {
  /** Answers sent (the instance's and the proxy's own). */
  readonly requests: number
  readonly answered5xx: number
  /** Failed attempts on an instance (connect, reset, timeout, other). */
  readonly upstreamFailures: number
  /** The duration histogram's counts (DURATION_BUCKETS plus +Inf), not cumulative. */
  readonly durations: readonly number[]
}

/** One replica's counts of a rollout's current window (written under its lease). */
export interface CountsRecord {
  readonly replica: string
  readonly service: string
  /** The window they belong to (RolloutRecord.window). */
  readonly window: string
  readonly groups: Readonly<Record<string, WindowCounts>>
}

/** Where the state a replica serves came from. */
export type StateSource = 'store' | 'cache' | 'config'

/** What the shared store tells its replica. Called in order, never concurrently. */
export interface SharedStoreListener {
  /** A state newer than any given before (another replica's change, or a reload). */
  state(state: DesiredState): void
  /** The replicas or their drain reports changed. */
  membership(): void
}

/** A store several replicas share. */
export interface SharedStore extends StateStore {
  readonly kind: 'etcd'
  /** This replica's id in the store. */
  readonly replicaId: string
  /** Connected and watching: changes can be written and others' changes arrive. */
  readonly connected: boolean
  /** The store's revision of the desired state, as last seen (0: none stored yet). */
  readonly storeRevision: number
  /** Where the state this replica serves was read from (the cache or the config when the store was down at start). */
  readonly source: StateSource
  /** Last connection or read problem, for /v1/cluster; undefined once connected again. */
  readonly lastError: string | undefined
  /**
   * Connects and reads the state (waiting at most the store's timeout); when the store cannot be
   * reached, reads the cache instead and keeps trying in the background. Undefined: nothing stored
   * yet (or nothing cached), so the config's weights apply.
   */
  open(listener: SharedStoreListener): Promise<DesiredState | undefined>
  /** The state in the store now, read directly (not through the watch); undefined when it cannot be read. */
  latest(): Promise<DesiredState | undefined>
  /** The live replicas (this one included once registered). */
  replicas(): readonly ReplicaRecord[]
  /** Every live replica's drain report for `service`. */
  drains(service: string): readonly DrainRecord[]
  /** Records the revision this replica now routes with (and writes the cache). */
  applied(state: DesiredState): void
  /** Publishes this replica's drain progress for a cut-over. */
  reportDrain(record: Omit<DrainRecord, 'replica'>): void
  /** Every live replica's counts of `service`'s rollout window (this one's as last written). */
  counts(service: string): readonly CountsRecord[]
  /** Publishes this replica's counts of a rollout window. */
  reportCounts(record: Omit<CountsRecord, 'replica'>): void
  /**
   * The replica that drives rollouts: the holder of the driver key, which lives under its lease,
   * so when it dies another replica takes the key within leaseSeconds. Undefined while none holds it.
   */
  readonly driver: string | undefined
  /** Revokes the lease (this replica leaves at once) and disconnects. */
  close(): Promise<void>
}

/** Narrows a store to a shared one. */
export function isShared(store: StateStore | undefined): store is SharedStore {
  return store?.kind === 'etcd'
}
