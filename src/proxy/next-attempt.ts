/**
 * Where a request goes after an attempt failed or its instance had no room: the rules, apart
 * from the exchange that follows them.
 */
import { performance } from 'node:perf_hooks'
import { pickInstance } from '../routing/pick.js'
import { redispatchGroup } from '../routing/select.js'
import type { GroupRoute, ServiceRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import type { FailureKind } from '../upstream/outcomes.js'
import { groupStats, type ServicePlan } from './plan.js'
import type { RetryPolicy } from './retry.js'

/** Redispatches (or overloads) of a group less than this far apart belong to one episode, logged once. */
const EPISODE_GAP_MS = 10_000

/** What a failed attempt's next step depends on. */
export interface FailedAttempt {
  readonly kind: FailureKind
  /** Every instance this request was sent to so far, the one that just failed last. */
  readonly tried: readonly Instance[]
  readonly group: GroupRoute<Instance>
  readonly retriesLeft: number
  /** The body can be sent again (none, a buffer, or a request stream not read yet). */
  readonly replayable: boolean
  readonly hasBody: boolean
  /** A retry after a timeout (or a failure of no known kind) already happened: there is at most one. */
  readonly retriedAfterTimeout: boolean
  readonly method: string
  readonly policy: RetryPolicy
}

/**
 * The next step after a failed attempt: another instance of the group (a retry), `'redispatch'`
 * (another group), or undefined (answer the error). A failed connect sent nothing, so any method
 * may go again while its body can be replayed. After a reset only the service's retry methods,
 * without a body, go again; after a timeout (or a failure of no known kind) the same, once (a slow
 * instance's requests are not multiplied). Either goes to an instance of the group not tried yet
 * while retries are left, within the retry budget. Otherwise a failed connect or a reset is
 * redispatched, as the whole group may be going (two instances killed together reset one request
 * twice): that moves the request rather than multiplying it, so it spends no budget, and it
 * happens once per request at most.
 */
export function nextAttempt(attempt: FailedAttempt): Instance | 'redispatch' | undefined {
  const { kind, policy } = attempt
  if (kind === 'connect') {
    if (!attempt.replayable) return undefined
  } else if (attempt.hasBody || !policy.retriesAfterSend(attempt.method) || (retriesOnce(kind) && attempt.retriedAfterTimeout)) {
    return undefined
  }
  const next = attempt.retriesLeft > 0 ? untriedInstance(attempt.group.instances, attempt.tried) : undefined
  if (next !== undefined && policy.budget.tryAcquire()) return next
  return kind === 'connect' || kind === 'reset' ? 'redispatch' : undefined
}

/** A failure after which a request is retried once at most: a timeout, or one of no known kind. */
export function retriesOnce(kind: FailureKind): boolean {
  return kind === 'timeout' || kind === 'other'
}

/** P2C among the instances not tried yet; the scan covers lists that repeat one (slow start). */
function untriedInstance(instances: readonly Instance[], tried: readonly Instance[]): Instance | undefined {
  const picked = pickInstance(instances, Math.random, tried[tried.length - 1])
  if (picked !== undefined && !tried.includes(picked)) return picked
  const start = Math.floor(Math.random() * instances.length)
  for (let i = 0; i < instances.length; i++) {
    const candidate = instances[(start + i) % instances.length]!
    if (!tried.includes(candidate)) return candidate
  }
  return undefined
}

/** An instance of the list (not `full`, not draining) with a free connection slot, scanning from a random start. */
export function roomyInstance(instances: readonly Instance[], full: Instance | undefined): Instance | undefined {
  const start = Math.floor(Math.random() * instances.length)
  for (let i = 0; i < instances.length; i++) {
    const candidate = instances[(start + i) % instances.length]!
    if (candidate !== full && !candidate.draining && candidate.slots.free) return candidate
  }
  return undefined
}

/** Where a request leaving `from` goes: the key's group among the others by weight, and an instance there. */
export function redispatch(
  plan: ServicePlan,
  service: ServiceRoute<Instance>,
  keyHash: number,
  from: GroupRoute<Instance>,
): { group: GroupRoute<Instance>; instance: Instance } | undefined {
  const group = redispatchGroup(service, keyHash, from)
  const instance = group === undefined ? undefined : pickInstance(group.instances, Math.random)
  if (group === undefined || instance === undefined) return undefined
  countRedispatch(plan, from.name, group.name)
  return { group, instance }
}

/**
 * Whether this occurrence starts an episode of `key` in `episodes` (none in the last
 * EPISODE_GAP_MS): what happens to every request of a group while it lasts is logged once.
 */
export function startsEpisode(episodes: Map<string, number>, key: string): boolean {
  const now = performance.now()
  const episodeEnd = episodes.get(key)
  episodes.set(key, now + EPISODE_GAP_MS)
  return episodeEnd === undefined || now > episodeEnd
}

/** Counts a redispatch for `zdd_redispatched_total`, and logs the first of an episode. */
export function countRedispatch(plan: ServicePlan, from: string, to: string): void {
  groupStats(plan, from).recordRedispatch(to)
  if (startsEpisode(plan.redispatchEpisodes, from)) {
    plan.logger.warn(
      { event: 'redispatch', service: plan.name, from, to },
      `group ${from} cannot take its requests: redispatching them to other groups (logged once per episode)`,
    )
  }
}
