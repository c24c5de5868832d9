/**
 * What an exchange reports as it goes: answers and failed attempts to its group's counters and,
 * with the instance's streaks, to the outcome sink (passive health); its warnings to the log. Apart
 * from the exchange so that it reads as the request's way alone; the exchange hands in its values.
 */
import { performance } from 'node:perf_hooks'
import type { Instance } from '../upstream/instance.js'
import { classifyFailure, type FailureKind } from '../upstream/outcomes.js'
import type { GroupStats } from '../upstream/stats.js'
import type { StickyKind } from './access-log.js'
import { startsEpisode } from './next-attempt.js'
import type { ServicePlan } from './plan.js'

/** What an attempt fails with when its instance answers a status outside HTTP: a proxy must not pass it on. */
export const BAD_STATUS = Object.assign(new Error('status outside 100-599'), { code: 'ZDD_BAD_STATUS' })

/** An answer of `instance` the client gets: its failure streak ends, its 5xx streak goes on or ends; counted like any answer. */
export function countAnswer(plan: ServicePlan, stats: GroupStats, instance: Instance, statusCode: number, sticky: StickyKind, keyHash: number): void {
  instance.failuresInARow = 0
  if (statusCode < 500) instance.fivexxInARow = 0
  else plan.outcomes.answered5xx(instance.id, ++instance.fivexxInARow)
  countStatus(stats, statusCode, sticky, keyHash)
}

/** An answer the client gets, the instance's or the proxy's own: its status and its client. */
export function countStatus(stats: GroupStats, statusCode: number, sticky: StickyKind, keyHash: number): void {
  stats.recordStatus(statusCode)
  // Without a key (sticky none, no header) the hash is random: no client to count.
  if (sticky !== 'none') stats.recordClient(keyHash)
}

/** The time from the request's arrival (`startedAt`, performance.now()) to its answer. */
export function countDuration(stats: GroupStats, startedAt: number): void {
  stats.recordDuration((performance.now() - startedAt) / 1000)
}

/**
 * A failed attempt on `failed`: its kind, counted in the group's errors, reported with the instance's
 * failure streak, and logged. A bad status, or a 1xx undici would not take (`refusedInterim`), says
 * nothing about the instance's reachability: its kind is 'other'.
 */
export function reportFailure(
  plan: ServicePlan,
  stats: GroupStats,
  group: string,
  failed: Instance,
  requestId: string,
  error: Error,
  refusedInterim: boolean,
): FailureKind {
  const kind = error === BAD_STATUS || refusedInterim ? 'other' : classifyFailure(error)
  stats.upstreamErrors[kind]++
  plan.outcomes.attemptFailed(failed.id, kind, ++failed.failuresInARow)
  plan.logger.warn(
    { event: 'upstream_failure', service: plan.name, group, instance: failed.address, requestId, kind, err: error.message },
    'upstream request failed',
  )
  return kind
}

/** Every instance of `group` is busy and the request is answered 503: logged once per episode. */
export function warnOverloaded(plan: ServicePlan, group: string, requestId: string, why: string): void {
  if (startsEpisode(plan.overloadEpisodes, group)) {
    plan.logger.warn(
      { event: 'overloaded', service: plan.name, group, requestId, why },
      'every instance of the group is busy: answering 503 (logged once per episode)',
    )
  }
}

/** The client read nothing for `sendMs` and is closed. */
export function warnStalled(plan: ServicePlan, group: string, requestId: string): void {
  plan.logger.warn({ event: 'client_stalled', service: plan.name, group, requestId, sendMs: plan.sendMs }, 'client stopped reading: closed')
}
