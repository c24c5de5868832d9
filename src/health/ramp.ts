/**
 * Slow-start timing: a newly live instance's share of its group ramps up linearly over
 * slowStartSeconds, in SLOW_START_STEPS steps; the snapshot lists it by that weight (routing/slow-start.ts).
 */
import { SLOW_START_STEPS } from '../routing/slow-start.js'

/** The ramp at `nowMs` for an instance live since `liveSinceMs`: in (0, 1], 1 once it is over. */
export function slowStartWeight(liveSinceMs: number, nowMs: number, slowStartSeconds: number): number {
  if (slowStartSeconds <= 0) return 1
  const elapsed = (nowMs - liveSinceMs) / (slowStartSeconds * 1000)
  if (elapsed >= 1) return 1
  // Never 0: a live instance gets some traffic from its first moment, as in Envoy's slow start.
  return Math.max(elapsed, 1 / SLOW_START_STEPS)
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
