/**
 * Slow start, as routing sees it: a ramping instance is listed fewer times than the others in its
 * group's instance list, so P2C's uniform draws follow the instances' weights and routing stays pure.
 *
 * An instance listed 2 times out of a group's 2 + 10 + 10 entries is drawn about 1/11 as often as it
 * would be at full weight while the others are busy; as its ramp advances, the control plane rebuilds
 * the snapshot with more copies. SLOW_START_STEPS copies is full weight, so a ramp moves in that many steps.
 * The ramp's timing (weight by time since the instance turned live) is health's (health/ramp.ts).
 */

/** Copies of a fully weighted instance in a snapshot's instance list while some instance ramps. */
export const SLOW_START_STEPS = 10

/** How many times an instance of weight `weight` (0..1] is listed (1..SLOW_START_STEPS). */
export function copiesFor(weight: number): number {
  return Math.min(SLOW_START_STEPS, Math.max(1, Math.round(weight * SLOW_START_STEPS)))
}

/**
 * The instance list a snapshot carries for one group: every instance once while none ramps;
 * otherwise each listed copiesFor(weight) times.
 */
export function expandBySlowStart<I>(instances: readonly I[], weightOf: (instance: I) => number): I[] {
  let ramping = false
  for (const instance of instances) {
    if (weightOf(instance) < 1) {
      ramping = true
      break
    }
  }
  if (!ramping) return instances.slice()
  const expanded: I[] = []
  for (const instance of instances) {
    const copies = copiesFor(weightOf(instance))
    for (let i = 0; i < copies; i++) expanded.push(instance)
  }
  return expanded
}
