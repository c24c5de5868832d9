import { describe, expect, it } from 'vitest'
import { nextRampStepMs, slowStartWeight } from '../../../src/health/ramp.js'
import { SLOW_START_STEPS } from '../../../src/routing/slow-start.js'

describe('slow-start ramp', () => {
  it('ramps linearly from a floor to 1', () => {
    expect(slowStartWeight(0, 0, 10)).toBe(1 / SLOW_START_STEPS)
    expect(slowStartWeight(0, 5_000, 10)).toBe(0.5)
    expect(slowStartWeight(0, 10_000, 10)).toBe(1)
    expect(slowStartWeight(0, 0, 0)).toBe(1)
  })

  it('names the time to the next ramp step', () => {
    expect(nextRampStepMs(0, 0, 10)).toBe(1_000)
    expect(nextRampStepMs(0, 1_500, 10)).toBe(500)
    expect(nextRampStepMs(0, 10_000, 10)).toBeUndefined()
    expect(nextRampStepMs(0, 0, 0)).toBeUndefined()
  })
})
