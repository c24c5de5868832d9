import type { Pickable } from './types.js'

/**
 * Least outstanding requests with power of two choices: draw two distinct instances at random and
 * take the less loaded. `avoid` (an instance that just failed) is skipped when there is another.
 * `random` returns a number in [0, 1).
 */
export function pickInstance<I extends Pickable>(
  instances: readonly I[],
  random: () => number,
  avoid?: I,
): I | undefined {
  const count = instances.length
  if (count === 0) return undefined
  if (count === 1) {
    const only = instances[0]!
    return only === avoid ? undefined : only
  }
  const first = Math.floor(random() * count)
  let second = Math.floor(random() * (count - 1))
  if (second >= first) second++
  let a = instances[first]!
  let b = instances[second]!
  if (a === avoid) return count === 2 ? b : pickOther(instances, random, avoid, b)
  if (b === avoid) return count === 2 ? a : pickOther(instances, random, avoid, a)
  return b.inflight < a.inflight ? b : a
}

/** P2C between `kept` and another random instance that is not `avoid`. */
function pickOther<I extends Pickable>(instances: readonly I[], random: () => number, avoid: I, kept: I): I {
  for (let tries = 0; tries < 4; tries++) {
    const other = instances[Math.floor(random() * instances.length)]!
    if (other !== avoid && other !== kept) return other.inflight < kept.inflight ? other : kept
  }
  return kept
}
