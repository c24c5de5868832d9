import { rendezvousIndex } from './rendezvous.js'
import type { GroupRoute, ServiceRoute } from './types.js'

/**
 * Group choice for one request: a valid override naming a group with live
 * instances wins; otherwise the key's group by weighted rendezvous over the candidates.
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
    if (forced !== undefined && forced.instances.length > 0) return forced
  }
  const candidates = service.candidates
  if (candidates.length === 1) return candidates[0]
  const index = rendezvousIndex(keyHash, candidates)
  return index < 0 ? undefined : candidates[index]
}
