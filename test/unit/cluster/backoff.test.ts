import { describe, expect, it } from 'vitest'
import { RespawnBackoff } from '../../../src/cluster/primary/backoff.js'

describe('RespawnBackoff', () => {
  it('doubles with each death in the last minute, up to the cap', () => {
    const backoff = new RespawnBackoff()
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((second) => backoff.next(second * 1000))).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000])
  })

  it('forgets deaths older than the window', () => {
    const backoff = new RespawnBackoff()
    backoff.next(0)
    backoff.next(1_000)
    expect(backoff.next(60_500)).toBe(200)
    expect(backoff.next(200_000)).toBe(100)
  })
})
