import { describe, expect, it } from 'vitest'
import { copiesFor, expandBySlowStart, SLOW_START_STEPS } from '../../../src/routing/slow-start.js'

describe('slow start in the snapshot', () => {
  it('lists instances by weight only while one ramps', () => {
    const weights = new Map([
      ['old', 1],
      ['new', 0.2],
    ])
    expect(expandBySlowStart(['old', 'new'], (name) => weights.get(name)!).sort()).toEqual([
      ...Array<string>(2).fill('new'),
      ...Array<string>(10).fill('old'),
    ])
    expect(expandBySlowStart(['a', 'b'], () => 1)).toEqual(['a', 'b'])
    expect(copiesFor(0.01)).toBe(1)
    expect(copiesFor(1)).toBe(SLOW_START_STEPS)
  })
})
