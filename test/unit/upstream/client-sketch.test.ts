import { describe, expect, it } from 'vitest'
import { hashString } from '../../../src/routing/rendezvous.js'
import { addToSketch, decodeSketch, encodeSketch, estimateSketch, mergeSketch, newSketch, sketchEmpty, SKETCH_REGISTERS } from '../../../src/upstream/client-sketch.js'

/** Distinct client ids as the proxy hashes them. */
const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => hashString(`client-${from + i}`))

/**
 * HyperLogLog's relative standard error with 2^12 registers is 1.04/64 = 1.6 %; the bounds are 6
 * standard errors. The ids and the hash are fixed, so each case's outcome is too (no flakiness).
 */
const BOUND = 6 * (1.04 / Math.sqrt(SKETCH_REGISTERS))

describe('the distinct-client sketch', () => {
  it('starts empty and counts nothing twice', () => {
    const sketch = newSketch()
    expect(sketchEmpty(sketch)).toBe(true)
    expect(estimateSketch(sketch)).toBe(0)
    for (let round = 0; round < 5; round++) for (const hash of ids(0, 1000)) addToSketch(sketch, hash)
    expect(sketchEmpty(sketch)).toBe(false)
    expect(Math.abs(estimateSketch(sketch) / 1000 - 1)).toBeLessThan(BOUND)
  })

  for (const count of [100, 10_000, 200_000]) {
    it(`estimates ${count} distinct clients within 6 standard errors`, () => {
      const sketch = newSketch()
      for (const hash of ids(count, count)) addToSketch(sketch, hash)
      expect(Math.abs(estimateSketch(sketch) / count - 1)).toBeLessThan(BOUND)
    })
  }

  it('merges two sketches into their union', () => {
    const a = newSketch()
    const b = newSketch()
    for (const hash of ids(0, 6000)) addToSketch(a, hash)
    // Half of b's clients are a's too.
    for (const hash of ids(3000, 6000)) addToSketch(b, hash)
    mergeSketch(a, b)
    expect(Math.abs(estimateSketch(a) / 9000 - 1)).toBeLessThan(BOUND)
  })

  it('travels as base64 and refuses anything of another size', () => {
    const sketch = newSketch()
    for (const hash of ids(0, 50)) addToSketch(sketch, hash)
    expect(decodeSketch(encodeSketch(sketch))).toEqual(sketch)
    expect(decodeSketch('AAAA')).toBeUndefined()
  })

  it('keeps ranks within a byte for any hash', () => {
    const sketch = newSketch()
    for (const hash of [0, 1, 2 ** 32 - 1, 2 ** 53 - 1, 2 ** 20]) addToSketch(sketch, hash)
    expect(Math.max(...sketch)).toBeLessThanOrEqual(21)
  })
})
