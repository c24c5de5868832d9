import { describe, expect, it } from 'vitest'
import { hashString, rendezvousIndex } from '../../../src/routing/rendezvous.js'
import { movedShare, sharesOf } from '../../../ui/moves.js'
import { binomialBand } from '../../helpers/binomial.js'

/** Moves `keys` clients through the proxy's own rendezvous, before and after; returns how many moved. */
function simulate(before: Record<string, number>, after: Record<string, number>, keys: number): number {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])]
  const candidates = (weights: Record<string, number>) => names.map((name) => ({ weight: weights[name] ?? 0, hash: hashString(name) }))
  const old = candidates(before)
  const next = candidates(after)
  let moved = 0
  for (let i = 0; i < keys; i++) {
    const key = hashString(`client-${i}`)
    if (rendezvousIndex(key, old) !== rendezvousIndex(key, next)) moved++
  }
  return moved
}

describe('movedShare', () => {
  const cases: { desc: string; before: Record<string, number>; after: Record<string, number>; exact?: number }[] = [
    { desc: 'canary 20 → 50: the change of share', before: { '0.9': 80, '1.0': 20 }, after: { '0.9': 50, '1.0': 50 }, exact: 0.3 },
    { desc: 'no change', before: { a: 3, b: 1 }, after: { a: 30, b: 10 }, exact: 0 },
    { desc: 'cut-over', before: { blue: 80, green: 20 }, after: { blue: 0, green: 100 }, exact: 0.8 },
    { desc: 'a new group from nothing', before: { a: 1, b: 0 }, after: { a: 1, b: 1 }, exact: 0.5 },
    { desc: 'three groups, two changed in opposite ways', before: { a: 50, b: 30, c: 20 }, after: { a: 20, b: 30, c: 50 } },
    { desc: 'three groups, one raised', before: { a: 60, b: 30, c: 10 }, after: { a: 60, b: 30, c: 40 } },
  ]
  for (const { desc, before, after, exact } of cases) {
    it(`${desc}: the prediction matches the proxy's rendezvous over 100 000 clients`, () => {
      const predicted = movedShare(before, after)
      if (exact !== undefined) expect(predicted).toBeCloseTo(exact, 12)
      const keys = 100_000
      // Each client moves or not independently with the predicted probability: a false failure < 1e-6.
      const [lo, hi] = binomialBand(keys, predicted, 1e-6)
      const moved = simulate(before, after, keys)
      expect(moved).toBeGreaterThanOrEqual(lo)
      expect(moved).toBeLessThanOrEqual(hi)
    })
  }

  it('is never less than the change of share (no scheme moves fewer clients)', () => {
    const before = { a: 50, b: 30, c: 20 }
    const after = { a: 20, b: 30, c: 50 }
    expect(movedShare(before, after)).toBeGreaterThanOrEqual(0.3 - 1e-12)
  })

  it('moves nothing when either side has no weight at all', () => {
    expect(movedShare({}, { a: 1 })).toBe(0)
    expect(movedShare({ a: 0 }, { a: 1 })).toBe(0)
  })
})

describe('sharesOf', () => {
  it('normalises over the groups that can take traffic', () => {
    expect(sharesOf({ a: 3, b: 1, c: 4 }, ['a', 'b'])).toEqual({ a: 0.75, b: 0.25 })
    expect(sharesOf({ a: 0 }, ['a'])).toEqual({ a: 0 })
  })
})
