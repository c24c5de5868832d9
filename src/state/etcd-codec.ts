/**
 * How the desired state, the replicas and their drain reports are laid out in etcd:
 *
 * ```
 * {prefix}state                        the whole DesiredState as JSON (compare-and-set on its mod_revision)
 * {prefix}replicas/{id}                ReplicaRecord, under the replica's lease
 * {prefix}drains/{service}/{id}        DrainRecord of the service's last cut-over, under the lease
 * {prefix}counts/{service}/{id}        CountsRecord of the service's rollout window, under the lease
 * {prefix}driver                       the id of the replica that drives rollouts, under its lease
 * ```
 *
 * A write cannot know the revision etcd will give it, so the document's newest revisions (its
 * own `revision`, the newest history entry's, a cut-over record made by that write) are stored
 * as 0 and read back as the key's mod_revision. Older entries carry their real revision.
 */
import type { CountsRecord, DrainRecord, ReplicaRecord, WindowCounts } from './shared.js'
import type { DesiredState, HistoryEntry, ServiceState } from './store.js'

/** The revision a document's newest entries are written with (no etcd revision is 0). */
export const PENDING_REVISION = 0

export interface EtcdKeys {
  readonly prefix: string
  readonly state: string
  readonly driver: string
  replica(id: string): string
  drain(service: string, replica: string): string
  counts(service: string, replica: string): string
}

export function etcdKeys(prefix: string): EtcdKeys {
  return {
    prefix,
    state: `${prefix}state`,
    driver: `${prefix}driver`,
    replica: (id) => `${prefix}replicas/${encodeURIComponent(id)}`,
    drain: (service, replica) => `${prefix}drains/${encodeURIComponent(service)}/${encodeURIComponent(replica)}`,
    counts: (service, replica) => `${prefix}counts/${encodeURIComponent(service)}/${encodeURIComponent(replica)}`,
  }
}

/** What a key under the prefix holds. */
export type KeyKind =
  | { kind: 'state' }
  | { kind: 'driver' }
  | { kind: 'replica'; id: string }
  | { kind: 'drain'; service: string; replica: string }
  | { kind: 'counts'; service: string; replica: string }
  | { kind: 'other' }

export function classifyKey(keys: EtcdKeys, key: string): KeyKind {
  if (!key.startsWith(keys.prefix)) return { kind: 'other' }
  const rest = key.slice(keys.prefix.length).split('/')
  try {
    if (rest.length === 1 && rest[0] === 'state') return { kind: 'state' }
    if (rest.length === 1 && rest[0] === 'driver') return { kind: 'driver' }
    if (rest.length === 2 && rest[0] === 'replicas') return { kind: 'replica', id: decodeURIComponent(rest[1]!) }
    if (rest.length === 3 && rest[0] === 'drains') {
      return { kind: 'drain', service: decodeURIComponent(rest[1]!), replica: decodeURIComponent(rest[2]!) }
    }
    if (rest.length === 3 && rest[0] === 'counts') {
      return { kind: 'counts', service: decodeURIComponent(rest[1]!), replica: decodeURIComponent(rest[2]!) }
    }
  } catch {
    // A key someone wrote by hand with a bad escape is not ours.
  }
  return { kind: 'other' }
}

/** The document a write stores (its pending revisions are 0). */
export function encodeState(state: DesiredState): string {
  return JSON.stringify(state)
}

/** A parsed document with its pending revisions set to the key's mod_revision. */
export function settleRevisions(state: DesiredState, modRevision: number): DesiredState {
  const settle = (revision: number) => (revision === PENDING_REVISION ? modRevision : revision)
  const services: Record<string, ServiceState> = {}
  for (const [name, service] of Object.entries(state.services)) {
    services[name] = service.cutover === undefined ? service : { ...service, cutover: { ...service.cutover, revision: settle(service.cutover.revision) } }
  }
  const history: HistoryEntry[] = state.history.map((entry) => (entry.revision === PENDING_REVISION ? { ...entry, revision: modRevision } : entry))
  return { ...state, revision: modRevision, services, history }
}

function object(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

/** A replica's record, or undefined when the value is not one (it is then ignored). */
export function decodeReplica(id: string, text: string): ReplicaRecord | undefined {
  const value = object(text)
  if (value === undefined || !isCount(value.appliedRevision) || typeof value.lastSeen !== 'string' || typeof value.startedAt !== 'string') return undefined
  return { id, appliedRevision: value.appliedRevision, lastSeen: value.lastSeen, startedAt: value.startedAt }
}

/** A drain report, or undefined when the value is not one. */
export function decodeDrain(service: string, replica: string, text: string): DrainRecord | undefined {
  const value = object(text)
  if (value === undefined || !isCount(value.revision) || typeof value.phase !== 'string' || !isCount(value.inflight)) return undefined
  let counts: Record<string, number> | undefined
  if (value.counts !== undefined) {
    const raw = value.counts
    if (raw === null || typeof raw !== 'object') return undefined
    counts = {}
    for (const [key, count] of Object.entries(raw)) if (isCount(count)) counts[key] = count
  }
  const record = { replica, service, revision: value.revision, phase: value.phase, inflight: value.inflight }
  return counts === undefined ? record : { ...record, counts }
}

function windowCounts(value: unknown): WindowCounts | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const { requests, answered5xx, upstreamFailures, durations } = value as Record<string, unknown>
  if (!isCount(requests) || !isCount(answered5xx) || !isCount(upstreamFailures) || !Array.isArray(durations) || !durations.every(isCount)) return undefined
  return { requests, answered5xx, upstreamFailures, durations: durations as number[] }
}

/** A replica's counts of a rollout window, or undefined when the value is not one. */
export function decodeCounts(service: string, replica: string, text: string): CountsRecord | undefined {
  const value = object(text)
  if (value === undefined || typeof value.window !== 'string' || value.groups === null || typeof value.groups !== 'object') return undefined
  const groups: Record<string, WindowCounts> = {}
  for (const [group, raw] of Object.entries(value.groups as Record<string, unknown>)) {
    const counts = windowCounts(raw)
    if (counts === undefined) return undefined
    groups[group] = counts
  }
  return { replica, service, window: value.window, groups }
}
