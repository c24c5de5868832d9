/** `GET /v1/cluster`: which store holds the desired state, and the replicas sharing it. */

import { defaultReplicaId, isShared, type StateSource } from '../state/shared.js'
import type { StateStore } from '../state/store.js'

export interface ReplicaView {
  readonly id: string
  /** The desired-state revision the replica routes with. */
  readonly appliedRevision: number
  readonly self: boolean
  /** ISO time the replica last wrote its record (this replica: now). */
  readonly lastSeen: string
  /** Behind the store's revision. */
  readonly lagging: boolean
}

export interface ClusterView {
  /** `etcd`, `file`, or `none` (no `state` block: read-only weights). */
  readonly store: 'etcd' | 'file' | 'none'
  /** The store can be read and written now. */
  readonly connected: boolean
  /** The store's revision of the desired state. */
  readonly storeRevision: number
  /** Where the state this replica serves came from: the store, or (etcd down at start) its cache or the config. */
  readonly source: StateSource
  /** The last connection problem while not connected. */
  readonly lastError?: string
  /** The replica that drives rollouts (`self` with a file store; null while none does, or without a store). */
  readonly driver: string | null
  readonly replicas: readonly ReplicaView[]
}

/** The cluster as this replica sees it; `revision` is the revision it routes with. */
export function clusterView(store: StateStore | undefined, revision: number, driver?: string): ClusterView {
  const now = new Date().toISOString()
  if (!isShared(store)) {
    const self = { id: defaultReplicaId(), appliedRevision: revision, self: true, lastSeen: now, lagging: false }
    return {
      store: store === undefined ? 'none' : 'file',
      connected: true,
      storeRevision: revision,
      source: store === undefined ? 'config' : 'store',
      driver: store === undefined ? null : self.id,
      replicas: [self],
    }
  }
  const storeRevision = Math.max(store.storeRevision, revision)
  const replicas: ReplicaView[] = store.replicas().map((replica) => {
    const self = replica.id === store.replicaId
    // This replica knows its own revision first-hand; its record may be a write behind.
    const appliedRevision = self ? revision : replica.appliedRevision
    return { id: replica.id, appliedRevision, self, lastSeen: self ? now : replica.lastSeen, lagging: appliedRevision < storeRevision }
  })
  if (!replicas.some((replica) => replica.self)) {
    replicas.push({ id: store.replicaId, appliedRevision: revision, self: true, lastSeen: now, lagging: revision < storeRevision })
  }
  const view: ClusterView = { store: 'etcd', connected: store.connected, storeRevision, source: store.source, driver: driver ?? null, replicas }
  return store.connected || store.lastError === undefined ? view : { ...view, lastError: store.lastError }
}
