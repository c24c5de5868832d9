/**
 * The rollout events a state change announces, worked out from the service's rollout record
 * before and after it. Every replica applies every state, so each announces the same events on its
 * own `/v1/events`, as with weights_changed. Pure.
 */
import type { RolloutRecord } from '../state/rollout-record.js'
import type { ZddEventType } from '../support/events.js'
import type { Weights } from '../state/store.js'

export type RolloutEventType = Extract<ZddEventType, `rollout_${string}`>

export interface RolloutEvent {
  readonly type: RolloutEventType
  readonly payload: Record<string, unknown>
}

/** Whether two reads of a record are the same write (each write gives it a new changeId). */
function sameRecord(a: RolloutRecord | undefined, b: RolloutRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.id === b.id && a.changeId === b.changeId && a.phase === b.phase && a.step === b.step && a.window === b.window
}

/** The events that take a rollout from `before` to `after`; `weights` are the service's after the change. */
export function rolloutEvents(service: string, before: RolloutRecord | undefined, after: RolloutRecord | undefined, weights: Weights): RolloutEvent[] {
  if (after === undefined || sameRecord(before, after)) return []
  const base = { service, id: after.id, to: after.to, step: after.step + 1, of: after.steps.length, weight: after.steps[after.step], phase: after.phase, weights }
  const last = after.results[after.results.length - 1]
  if (before?.id !== after.id) {
    const { steps, stepSeconds, analysis, finish, drainSeconds } = after
    return [{ type: 'rollout_started', payload: { ...base, steps, stepSeconds, analysis, finish, drainSeconds, before: after.before } }]
  }
  const events: RolloutEvent[] = []
  const resumed = before.phase === 'paused' && (after.phase === 'running' || after.phase === 'finishing')
  if (resumed) events.push({ type: 'rollout_resumed', payload: base })
  // A step further, or the hand-over's cut-over after the last step (not when the last step was the cut-over itself).
  const moved = after.step > before.step || (after.phase === 'finishing' && before.phase !== 'finishing' && after.cutoverAt !== before.cutoverAt)
  if (moved && last !== undefined) {
    const handover = after.phase === 'finishing' ? { handover: after.finish } : {}
    events.push({ type: 'rollout_step', payload: { ...base, ...handover, previous: last } })
  }
  if (after.phase === before.phase && !moved) return events
  switch (after.phase) {
    case 'paused':
      events.push({ type: 'rollout_paused', payload: { ...base, reason: after.reason, ...(after.figures === undefined ? {} : { figures: after.figures }) } })
      break
    case 'failed':
      events.push({ type: 'rollout_failed', payload: { ...base, reason: after.reason, failed: after.failed ?? [], figures: after.figures, restored: after.before } })
      break
    case 'aborted':
      events.push({ type: 'rollout_aborted', payload: { ...base, reason: after.reason, restored: after.before } })
      break
    case 'completed':
      events.push({ type: 'rollout_completed', payload: { ...base, results: after.results, figures: after.figures ?? null, ...(after.drain === undefined ? {} : { drain: after.drain }) } })
      break
    default:
  }
  return events
}
