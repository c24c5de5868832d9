import type { Logger } from '../support/log.js'
import { identicalWeights, validateWeights } from '../routing/weights.js'
import type { DesiredState, HistoryEntry } from '../state/store.js'
import { drainedGroups } from './change-rules.js'
import type { DrainTracker } from './drain.js'
import type { ControlPlane } from './plane.js'
import { rolloutEvents, type RolloutEventType } from './rollout-events.js'

/** What putting a desired state in force acts on. */
export interface AdoptionTargets {
  readonly plane: ControlPlane
  readonly drains: DrainTracker
  readonly logger: Logger
}

type ChangeEventType = 'weights_changed' | 'cutover_started' | 'rollback'

/**
 * Puts `next` in force after `before` (this replica's change or another's alike): per service whose
 * weights or history moved, a running drain is superseded, the plane gets the weights, a new
 * cut-over starts draining here, and each new history entry is announced; every service's rollout
 * transitions are announced too.
 */
export function putInForce(before: DesiredState, next: DesiredState, targets: AdoptionTargets): void {
  const { plane, drains } = targets
  const fresh = next.history.filter((entry) => entry.revision > before.revision)
  for (const service of plane.config.services) {
    const name = service.name
    const entries = fresh.filter((entry) => entry.service === name)
    const previous = before.services[name]
    const current = next.services[name]
    const weights = current?.weights
    const rollout = rolloutEvents(name, previous?.rollout, current?.rollout, weights ?? {})
    if (weights === undefined || (entries.length === 0 && previous !== undefined && identicalWeights(previous.weights, weights))) {
      for (const { type, payload } of rollout) publishRollout(targets, type, payload)
      continue
    }
    const checked = validateWeights(weights, service.groups.map((group) => group.name))
    // The store already said which services do not fit this config; their routing stays.
    if (!checked.ok) continue
    const last = entries[entries.length - 1]
    const record = current?.cutover
    const draining = last?.kind === 'cutover' && record !== undefined && record.revision === last.revision ? record : undefined
    // A later change ends a running drain first, so its cutover_completed comes before this change's event.
    drains.supersede(name)
    plane.setWeights(name, checked.weights)
    for (const entry of entries) {
      if (entry === last && draining !== undefined) continue
      announce(targets, eventOf(entry), entry, entry.kind === 'cutover' ? { to: entry.to, from: drainedGroups(entry.before, entry.after) } : {})
    }
    if (draining !== undefined) {
      const instances = draining.from.flatMap((group) => plane.instancesOf(name, group))
      const { to, from, revision, startedAt, drainSeconds } = draining
      const drain = drains.start({ service: name, to, from, revision, startedAt, drainSeconds }, instances)
      announce(targets, 'cutover_started', last!, { to, from, drainSeconds, inflight: drain.inflight })
    }
    for (const { type, payload } of rollout) publishRollout(targets, type, payload)
  }
}

function publishRollout({ plane, logger }: AdoptionTargets, eventType: RolloutEventType, payload: Record<string, unknown>): void {
  plane.events.publish(eventType, payload)
  const { service, id, step, of } = payload as { service: string; id: string; step: number; of: number }
  logger.info({ event: eventType, ...payload }, `${eventType} ${service} (rollout ${id}, step ${step} of ${of})`)
}

function announce({ plane, logger }: AdoptionTargets, eventType: ChangeEventType, entry: HistoryEntry, extra: Record<string, unknown>): void {
  const payload: Record<string, unknown> = {
    service: entry.service,
    revision: entry.revision,
    before: entry.before,
    after: entry.after,
    ...extra,
  }
  if (entry.undid !== undefined) payload.undid = entry.undid
  if (entry.reason !== undefined) payload.reason = entry.reason
  plane.events.publish(eventType, payload)
  logger.info({ event: eventType, ...payload }, `${eventType} ${entry.service} (revision ${entry.revision})`)
}

function eventOf(entry: HistoryEntry): ChangeEventType {
  return entry.kind === 'weights' ? 'weights_changed' : entry.kind === 'rollback' ? 'rollback' : 'cutover_started'
}
