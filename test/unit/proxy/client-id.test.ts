import { describe, expect, it } from 'vitest'
import { newClientId } from '../../../src/proxy/client-id.js'

describe('newClientId', () => {
  it('gives 10 cookie-safe characters, every position using all 64 of them, and no repeats', () => {
    const count = 100_000
    const ids = new Set<string>()
    const seen = Array.from({ length: 10 }, () => new Set<string>())
    for (let i = 0; i < count; i++) {
      const id = newClientId()
      expect(id).toMatch(/^[0-9A-Za-z_-]{10}$/)
      ids.add(id)
      for (let position = 0; position < 10; position++) seen[position]!.add(id[position]!)
    }
    // 60 random bits: a repeat among 100 000 ids has probability ~4e-9.
    expect(ids.size).toBe(count)
    // Each symbol is expected ~1 560 times per position; missing one means a bit is not random.
    expect(seen.map((symbols) => symbols.size)).toEqual(Array(10).fill(64))
  })
})
