import { rendezvousIndex } from './rendezvous.js'
import type { GroupRoute, ServiceRoute } from './types.js'

/**
 * Group choice for one request: a valid override wins (a group with live instances that no
 * cut-over drains, with a weight above 0 unless the service allows any group); otherwise the
 * key's group by weighted rendezvous over the candidates.
 * Callers without a sticky key pass a random 53-bit keyHash, which makes the choice a weighted
 * random one. Returns undefined when no group has a live instance.
 */
export function chooseGroup<I>(
  service: ServiceRoute<I>,
  overrideName: string | undefined,
  keyHash: number,
): GroupRoute<I> | undefined {
  if (overrideName !== undefined) {
    const forced = service.groupsByName.get(overrideName)
    if (forced !== undefined && overridable(service, forced)) return forced
  }
  const candidates = service.candidates
  if (candidates.length === 1) return candidates[0]
  const index = rendezvousIndex(keyHash, candidates)
  return index < 0 ? undefined : candidates[index]
}

/**
 * The group a key belongs to by weight alone, live instances or not (its "home"): where the request
 * would go if every group were up. Undefined when no group has a weight above 0.
 */
export function homeGroup<I>(service: ServiceRoute<I>, keyHash: number): GroupRoute<I> | undefined {
  const index = rendezvousIndex(keyHash, service.weighted)
  return index < 0 ? undefined : service.weighted[index]
}

/**
 * Where a request leaving `from` (no live instance there any more, or none that accepts a
 * connection) goes: the key's group among the other groups with live instances, by weight, so
 * keys spread over them as their weights say and each returns home when `from` recovers.
 */
export function redispatchGroup<I>(service: ServiceRoute<I>, keyHash: number, from: GroupRoute<I>): GroupRoute<I> | undefined {
  const index = rendezvousIndex(keyHash, service.candidates, from)
  return index < 0 ? undefined : service.candidates[index]
}

/** Whether an override may send a request to `group` (the caller checked the secret, if any). */
export function overridable<I>(service: ServiceRoute<I>, group: GroupRoute<I>): boolean {
  return group.instances.length > 0 && !group.draining && (group.weight > 0 || service.config.override.allow === 'any')
}

