/**
 * Slow start: a newly live instance's share of its group ramps up linearly over slowStartSeconds.
 *
 * Routing stays pure: health turns the ramp into a weight in (0, 1] per instance, and the snapshot
 * lists each live instance `copiesFor(weight)` times. P2C draws uniformly from that list, so an
 * instance listed 2 times out of a group's 2 + 10 + 10 entries is drawn about 1/11 as often as it
 * would be at full weight while the others are busy; as the ramp advances the snapshot is rebuilt
 * with more copies. STEPS copies is full weight, so the ramp moves in STEPS steps.
 */

/** Copies of a fully weighted instance in a snapshot's instance list while some instance ramps. */
export const SLOW_START_STEPS = 10

/** The ramp at `nowMs` for an instance live since `liveSinceMs`: in (0, 1], 1 once it is over. */
export function slowStartWeight(liveSinceMs: number, nowMs: number, slowStartSeconds: number): number {
  if (slowStartSeconds <= 0) return 1
  const elapsed = (nowMs - liveSinceMs) / (slowStartSeconds * 1000)
  if (elapsed >= 1) return 1
  // Never 0: a live instance gets some traffic from its first moment, as in Envoy's slow start.
  return Math.max(elapsed, 1 / SLOW_START_STEPS)
}

/** How many times an instance of weight `weight` is listed (1..SLOW_START_STEPS). */
export function copiesFor(weight: number): number {
  return Math.min(SLOW_START_STEPS, Math.max(1, Math.round(weight * SLOW_START_STEPS)))
}

/** Milliseconds until the ramp reaches its next step (to rebuild the snapshot then), or undefined when over. */
export function nextRampStepMs(liveSinceMs: number, nowMs: number, slowStartSeconds: number): number | undefined {
  if (slowStartSeconds <= 0) return undefined
  const total = slowStartSeconds * 1000
  const elapsed = nowMs - liveSinceMs
  if (elapsed >= total) return undefined
  const step = total / SLOW_START_STEPS
  return Math.max(1, step * (Math.floor(elapsed / step) + 1) - elapsed)
}

/**
 * The instance list a snapshot carries for one group: every instance once while none ramps;
 * otherwise each listed copiesFor(weight) times, so P2C's uniform draws follow the weights.
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
