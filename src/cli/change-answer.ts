import type { DrainStatus } from '../control/drain.js'
import type { ServiceView } from '../control/status.js'
import type { HistoryEntry } from '../state/store.js'

/** What the admin API answers to a change (weights, cutover, rollback). */
export interface ChangeAnswer {
  readonly revision: number
  readonly change: HistoryEntry
  readonly service: ServiceView
  readonly drain?: DrainStatus
}
