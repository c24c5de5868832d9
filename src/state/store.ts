/**
 * The desired state: weights per service, the last cut-over and the last rollout per service, a
 * global revision and the history of changes. The control plane is its only writer; a store
 * persists it whole.
 */
import type { RolloutRecord } from './rollout-record.js'

/** Weights of one service by group name, as set (not normalised). */
export type Weights = Readonly<Record<string, number>>

/** What kind of mutation produced a history entry. */
export type ChangeKind = 'weights' | 'cutover' | 'rollback'

/** One applied change. */
export interface HistoryEntry {
  /** The global revision this change produced. */
  readonly revision: number
  /** Random id of the change, so a writer whose answer was lost can tell its own change in the store. */
  readonly id?: string
  /** ISO time the change was applied. */
  readonly time: string
  readonly service: string
  readonly kind: ChangeKind
  readonly before: Weights
  readonly after: Weights
  /** Free text given by the operator (`--reason`). */
  readonly reason?: string
  /** Cut-over only: the group that received 100 %. */
  readonly to?: string
  /** Rollback only: the revision of the change it undid. */
  readonly undid?: number
  /** Set once a rollback undid this change; a later rollback goes one step further back. */
  readonly undone?: boolean
  /** The rollout that made this change (a step, its rollback, its cut-over). */
  readonly rollout?: string
}

/** The last cut-over of a service, as requested (its drain progress lives in memory only). */
export interface CutoverRecord {
  readonly revision: number
  readonly to: string
  readonly from: readonly string[]
  readonly startedAt: string
  readonly drainSeconds: number
}

export interface ServiceState {
  readonly weights: Weights
  readonly cutover?: CutoverRecord
  /** The running or last rollout. */
  readonly rollout?: RolloutRecord
}

/** The whole desired state; replaced as a whole on every change. */
export interface DesiredState {
  readonly format: typeof STATE_FORMAT
  /** Bumped by every change, never reused. */
  readonly revision: number
  readonly services: Readonly<Record<string, ServiceState>>
  /** Oldest first; at most HISTORY_PER_SERVICE entries per service are kept. */
  readonly history: readonly HistoryEntry[]
}

/** What a commit did. */
export type CommitOutcome =
  | { readonly committed: true; readonly state: DesiredState }
  /** Another writer changed the state after `base`: `current` is the state in the store now. */
  | { readonly committed: false; readonly current: DesiredState }

/**
 * Where the desired state lives. `commit()` resolves only once the new state is durable, so a
 * change is acknowledged after it would survive a crash.
 */
export interface StateStore {
  /** `file` (one writer) or `etcd` (shared by replicas). */
  readonly kind: 'file' | 'etcd'
  /** Names the storage in messages (e.g. the file path). */
  readonly description: string
  /**
   * Writes `change` on top of `base` if the stored state is still `base` (compare-and-set), and
   * returns the state as stored, whose revision is the store's. Throws StoreUnavailableError when
   * the store cannot be reached and StateError when it refuses the write.
   */
  commit(base: DesiredState, change: Change): Promise<CommitOutcome>
}

/** The store could not be reached (etcd down, no quorum, timeout). */
export class StoreUnavailableError extends Error {
  constructor(
    message: string,
    /** `unknown`: the write was sent and its answer lost, so it may have been applied. */
    readonly outcome: 'not_applied' | 'unknown',
  ) {
    super(message)
    this.name = 'StoreUnavailableError'
  }
}

/** Marks the file layout, so a later layout can be told apart. */
export const STATE_FORMAT = 'zdd-state/1'

/** History kept per service: enough to undo many steps, small enough to rewrite on every change. */
export const HISTORY_PER_SERVICE = 100

/** A state that cannot be used: the message is one line naming the store and the problem. */
export class StateError extends Error {
  constructor(
    readonly source: string,
    readonly problem: string,
    /** What `source` is, for the message. */
    readonly what = 'state file',
  ) {
    super(`${what} ${source}: ${problem}`.replace(/[\r\n\u2028\u2029]+/g, ' '))
    this.name = 'StateError'
  }
}

/** The state before any change: the config's weights at revision 0. */
export function initialState(services: ReadonlyMap<string, Weights>): DesiredState {
  const entries: Record<string, ServiceState> = {}
  for (const [name, weights] of services) entries[name] = { weights }
  return { format: STATE_FORMAT, revision: 0, services: entries, history: [] }
}

/** A change to apply to one service. */
export interface Change {
  /** Random, unique per change (see HistoryEntry.id). */
  readonly id?: string
  readonly service: string
  /** `rollout`: only the service's rollout record moves (a pause, a resume at the same weights, an end): no history entry. */
  readonly kind: ChangeKind | 'rollout'
  /** The weights after the change (a `rollout` change keeps the service's). */
  readonly after: Weights
  readonly time: string
  readonly reason?: string
  readonly to?: string
  readonly undid?: number
  readonly cutover?: Omit<CutoverRecord, 'revision'>
  /** The service's rollout record after the change; absent: unchanged. */
  readonly rollout?: RolloutRecord
  /** The id of the rollout that makes this change (HistoryEntry.rollout); absent for an operator's change. */
  readonly madeBy?: string
}

/**
 * The state after `change`: next revision, new weights, one more history entry (pure). A store
 * that numbers revisions itself passes `revision` (etcd: 0, filled in when read back).
 */
export function applyChange(state: DesiredState, change: Change, revision = state.revision + 1): DesiredState {
  const current = state.services[change.service]
  const before = current?.weights ?? {}
  const rollout = change.rollout ?? current?.rollout
  if (change.kind === 'rollout') {
    const service: ServiceState = { ...current, weights: before, ...(rollout === undefined ? {} : { rollout }) }
    return { format: STATE_FORMAT, revision, services: { ...state.services, [change.service]: service }, history: state.history }
  }
  const entry: HistoryEntry = {
    revision,
    ...(change.id !== undefined ? { id: change.id } : {}),
    time: change.time,
    service: change.service,
    kind: change.kind,
    before,
    after: change.after,
    ...(change.reason !== undefined ? { reason: change.reason } : {}),
    ...(change.to !== undefined ? { to: change.to } : {}),
    ...(change.undid !== undefined ? { undid: change.undid } : {}),
    ...(change.madeBy !== undefined ? { rollout: change.madeBy } : {}),
  }
  let history = state.history.map((item) =>
    change.undid !== undefined && item.revision === change.undid ? { ...item, undone: true } : item,
  )
  history.push(entry)
  history = trimHistory(history, change.service)
  const cutover = change.cutover !== undefined ? { ...change.cutover, revision } : current?.cutover
  const service: ServiceState = {
    weights: change.after,
    ...(cutover === undefined ? {} : { cutover }),
    ...(rollout === undefined ? {} : { rollout }),
  }
  return { format: STATE_FORMAT, revision, services: { ...state.services, [change.service]: service }, history }
}

/** Drops the oldest entries of `service` beyond HISTORY_PER_SERVICE. */
function trimHistory(history: HistoryEntry[], service: string): HistoryEntry[] {
  let count = 0
  for (const entry of history) if (entry.service === service) count++
  if (count <= HISTORY_PER_SERVICE) return history
  let drop = count - HISTORY_PER_SERVICE
  return history.filter((entry) => {
    if (drop > 0 && entry.service === service) {
      drop--
      return false
    }
    return true
  })
}

/** The history entries of one service, oldest first. */
export function historyOf(state: DesiredState, service: string): HistoryEntry[] {
  return state.history.filter((entry) => entry.service === service)
}
