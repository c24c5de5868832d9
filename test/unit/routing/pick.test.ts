import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../../helpers/routing-fixtures.js'
import { pickInstance } from '../../../src/routing/pick.js'

interface Instance {
  readonly id: string
  readonly inflight: number
}

const instances = (...inflight: number[]): Instance[] => inflight.map((load, i) => ({ id: `i${i}`, inflight: load }))

/** A `random` that returns the given values in order and fails the test if asked for more. */
function scripted(...values: number[]): () => number {
  let next = 0
  return () => {
    if (next >= values.length) throw new Error(`random() called more than ${values.length} times`)
    return values[next++]!
  }
}

describe('pickInstance edge cases', () => {
  it('returns undefined for no instances', () => {
    expect(pickInstance([], scripted())).toBeUndefined()
  })

  it('returns the only instance without drawing', () => {
    const list = instances(7)
    expect(pickInstance(list, scripted())).toBe(list[0])
  })

  it('returns undefined when the only instance is the one to avoid', () => {
    const list = instances(0)
    expect(pickInstance(list, scripted(), list[0])).toBeUndefined()
  })

  it('returns the only instance when `avoid` is some other instance', () => {
    const list = instances(0)
    expect(pickInstance(list, scripted(), { id: 'gone', inflight: 0 })).toBe(list[0])
  })
})

describe('pickInstance with scripted draws', () => {
  // first = floor(r1 * n); second = floor(r2 * (n - 1)), skipping over first; the less loaded wins.
  it.each([
    { desc: 'draws 0 and 1, 1 is less loaded', load: [5, 2, 9, 9], draws: [0, 0], picked: 1 },
    { desc: 'draws 0 and 1, 0 is less loaded', load: [1, 2, 0, 0], draws: [0, 0], picked: 0 },
    { desc: 'draws 3 and 1', load: [0, 4, 0, 3], draws: [0.99, 0.5], picked: 3 },
    { desc: 'draws 2 and 0', load: [8, 0, 9, 0], draws: [0.5, 0], picked: 0 },
    { desc: 'draws 1 and 2 (second skips over first)', load: [0, 6, 5], draws: [0.4, 0.5], picked: 2 },
    { desc: 'two instances, the second less loaded', load: [3, 1], draws: [0, 0.7], picked: 1 },
    { desc: 'two instances, the first less loaded', load: [1, 3], draws: [0.9, 0.2], picked: 0 },
  ])('$desc', ({ load, draws, picked }) => {
    const list = instances(...load)
    expect(pickInstance(list, scripted(...draws))).toBe(list[picked])
  })

  it('always picks the less loaded of every pair it can draw (3 instances)', () => {
    const list = instances(4, 1, 2)
    for (let first = 0; first < 3; first++) {
      for (let second = 0; second < 2; second++) {
        const a = first
        const b = second >= first ? second + 1 : second
        const picked = pickInstance(list, scripted((first + 0.5) / 3, (second + 0.5) / 2))
        expect(picked).toBe(list[a]!.inflight <= list[b]!.inflight ? list[a] : list[b])
      }
    }
  })

  it('with two instances, draws `avoid` and returns the other even if it is busier', () => {
    const list = instances(0, 50)
    expect(pickInstance(list, scripted(0, 0), list[0])).toBe(list[1])
  })

  it('when it draws `avoid`, compares the kept instance with a third one', () => {
    const list = instances(0, 1, 9)
    // Draws 0 (avoid) and 2 (kept); then redraws: 0 (avoid again), 2 (kept again), 1 (less loaded).
    expect(pickInstance(list, scripted(0, 0.5, 0, 0.9, 0.4), list[0])).toBe(list[1])
  })

  it('keeps the drawn instance when four redraws find no third one', () => {
    const list = instances(0, 1, 9)
    expect(pickInstance(list, scripted(0, 0.5, 0, 0.9, 0, 0.9), list[0])).toBe(list[2])
  })

  it('when the second draw is `avoid`, keeps the first unless the third is less loaded', () => {
    const list = instances(9, 0, 3)
    // Draws 2 (kept) and 1 (avoid); then 0, which is busier than 2.
    expect(pickInstance(list, scripted(0.9, 0.6, 0.1), list[1])).toBe(list[2])
  })
})

describe('pickInstance over many draws', () => {
  it.each([2, 3, 5])('never returns `avoid` when another instance exists (%d instances)', (count) => {
    const random = mulberry32(count)
    const list = instances(...Array.from({ length: count }, (_, i) => i))
    // Avoid the least loaded instance: the one P2C would prefer.
    const avoid = list[0]!
    for (let i = 0; i < 5000; i++) {
      const picked = pickInstance(list, random, avoid)
      expect(picked !== undefined && picked !== avoid).toBe(true)
    }
  })

  it('picks the least loaded instance most often, in P2C proportions', () => {
    // With n = 5 distinct loads, the k-th least loaded wins iff it is drawn with a busier one:
    // P = (n - 1 - k) / C(n, 2) = 0.4, 0.3, 0.2, 0.1, 0. Over 20 000 draws a share's sd is at most
    // sqrt(0.25 / 20 000) = 0.35 pp, so ±2 pp is > 5.6 sigma: a correct build fails < 1e-7 of runs
    // (and the seed is fixed, so the result is deterministic).
    const list = instances(30, 10, 0, 40, 20)
    const byLoad = [2, 1, 4, 0, 3]
    const expected = [0.4, 0.3, 0.2, 0.1, 0]
    const counts = new Map<Instance, number>()
    const random = mulberry32(42)
    const draws = 20_000
    for (let i = 0; i < draws; i++) {
      const picked = pickInstance(list, random)!
      counts.set(picked, (counts.get(picked) ?? 0) + 1)
    }
    byLoad.forEach((index, rank) => {
      const share = (counts.get(list[index]!) ?? 0) / draws
      expect(Math.abs(share - expected[rank]!), `rank ${rank}: ${share}`).toBeLessThanOrEqual(0.02)
    })
    expect(counts.get(list[3]!)).toBeUndefined()
  })
})
