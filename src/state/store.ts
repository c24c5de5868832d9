/**
 * The desired state: weights per service, the last cut-over per service, a
 * global revision and the history of changes. The control plane is its only writer; a store
 * persists it whole.
 */

/** Weights of one service by group name, as set (not normalised). */
export type Weights = Readonly<Record<string, number>>

/** What kind of mutation produced a history entry. */
export type ChangeKind = 'weights' | 'cutover' | 'rollback'

/** One applied change. */
export interface HistoryEntry {
  /** The global revision this change produced. */
  readonly revision: number
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

/**
 * Where the desired state lives. `save()` resolves only once the state is durable, so a change
 * is acknowledged after it would survive a crash.
 */
export interface StateStore {
  /** Names the storage in messages (e.g. the file path). */
  readonly description: string
  /** The saved state; undefined when nothing was saved yet. Throws StateError when unusable. */
  load(): Promise<DesiredState | undefined>
  /** Persists `state` atomically: afterwards a reader sees either the old or the new state whole. */
  save(state: DesiredState): Promise<void>
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
  ) {
    super(`state file ${source}: ${problem}`.replace(/[\r\n\u2028\u2029]+/g, ' '))
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
  readonly service: string
  readonly kind: ChangeKind
  readonly after: Weights
  readonly time: string
  readonly reason?: string
  readonly to?: string
  readonly undid?: number
  readonly cutover?: Omit<CutoverRecord, 'revision'>
}

/** The state after `change`: next revision, new weights, one more history entry (pure). */
export function applyChange(state: DesiredState, change: Change): DesiredState {
  const revision = state.revision + 1
  const current = state.services[change.service]
  const before = current?.weights ?? {}
  const entry: HistoryEntry = {
    revision,
    time: change.time,
    service: change.service,
    kind: change.kind,
    before,
    after: change.after,
    ...(change.reason !== undefined ? { reason: change.reason } : {}),
    ...(change.to !== undefined ? { to: change.to } : {}),
    ...(change.undid !== undefined ? { undid: change.undid } : {}),
  }
  let history = state.history.map((item) =>
    change.undid !== undefined && item.revision === change.undid ? { ...item, undone: true } : item,
  )
  history.push(entry)
  history = trimHistory(history, change.service)
  const cutover = change.cutover !== undefined ? { ...change.cutover, revision } : current?.cutover
  const service: ServiceState = cutover !== undefined ? { weights: change.after, cutover } : { weights: change.after }
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
