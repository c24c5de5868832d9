import { describe, expect, it } from 'vitest'
import { ALPHABET, mulberry32, serviceConfig } from '../../helpers/routing-fixtures.js'
import { hashString } from '../../../src/routing/rendezvous.js'
import { chooseGroup } from '../../../src/routing/select.js'
import { buildServiceRoute } from '../../../src/routing/table.js'

// Monotone stickiness, checked as a property over 100 000 keys and weight sequences:
// a key moves from group X to group Y only if Y's weight rose or X's weight fell. Hence (a) when only
// G changed, keys move only into G (G rose) or only out of G (G fell), and (b) no key moves between
// two groups whose weights did not change. (c) Every group's share of the keys is within ±1
// percentage point of its normalised weight: with n = 100 000 the standard deviation of a share p is
// sqrt(p(1-p)/n) <= 0.158 pp, so 1 pp is more than 6.3 sigma and a correct build fails one check with
// probability < 3e-10 (about 100 checks here: < 1e-7 in all). The keys come from a fixed seed, so
// the test is deterministic anyway and never flakes.

/** Hashes of random strings shaped like cookie ids (22 base64url characters). */
function cookieIdHashes(count: number, seed: number): Float64Array {
  const random = mulberry32(seed)
  const hashes = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    let key = ''
    for (let j = 0; j < 22; j++) key += ALPHABET[Math.floor(random() * 64)]
    hashes[i] = hashString(key)
  }
  return hashes
}

const KEYS = cookieIdHashes(100_000, 0x5eed)

/** Group index (config order) of every key under the given weights; every group has one live instance. */
function assign(groupNames: readonly string[], weights: readonly number[]): Uint8Array {
  const config = serviceConfig(groupNames)
  const weightByName: Record<string, number> = {}
  const live = new Map<string, readonly string[]>()
  groupNames.forEach((name, i) => {
    weightByName[name] = weights[i]!
    live.set(name, [`${name}-instance`])
  })
  const route = buildServiceRoute(config, weightByName, live)
  const indexOf = new Map(groupNames.map((name, i) => [name, i]))
  const out = new Uint8Array(KEYS.length)
  for (let k = 0; k < KEYS.length; k++) {
    const group = chooseGroup(route, undefined, KEYS[k]!)
    if (group === undefined) throw new Error('no group chosen')
    out[k] = indexOf.get(group.name)!
  }
  return out
}

function countMoved(before: Uint8Array, after: Uint8Array): number {
  let moved = 0
  for (let k = 0; k < before.length; k++) if (before[k] !== after[k]) moved++
  return moved
}

function expectSharesMatchWeights(groups: Uint8Array, weights: readonly number[], label: string): void {
  const counts = new Array<number>(weights.length).fill(0)
  for (const group of groups) counts[group]!++
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  weights.forEach((weight, g) => {
    const share = counts[g]! / groups.length
    expect(Math.abs(share - weight / total), `${label}: group ${g} share ${share}`).toBeLessThanOrEqual(0.01)
  })
}

interface Scenario {
  readonly desc: string
  readonly groups: readonly string[]
  readonly steps: readonly (readonly number[])[]
}

const scenarios: Scenario[] = [
  {
    desc: '2 groups, canary 0→10→20→50→20→0, stable fixed',
    groups: ['stable', 'canary'],
    steps: [[100, 0], [100, 10], [100, 20], [100, 50], [100, 20], [100, 0]],
  },
  {
    desc: '2 groups, both change at once (percentages)',
    groups: ['0.9', '1.0'],
    steps: [[90, 10], [80, 20], [50, 50], [80, 20], [100, 0]],
  },
  {
    desc: '3 groups, canary 0→10→20→50→20→0, others fixed',
    groups: ['0.9', '1.0', 'canary'],
    steps: [[60, 40, 0], [60, 40, 10], [60, 40, 20], [60, 40, 50], [60, 40, 20], [60, 40, 0]],
  },
  {
    desc: '3 groups, one group changes per step, each in turn',
    groups: ['blue', 'green', 'canary'],
    steps: [[60, 40, 10], [30, 40, 10], [30, 80, 10], [30, 80, 0], [30, 0, 0], [30, 0, 25], [90, 0, 25]],
  },
  {
    desc: '3 groups, two change at once',
    groups: ['0.9', '1.0', 'canary'],
    steps: [[70, 20, 10], [60, 20, 20], [30, 20, 50], [60, 20, 20], [80, 20, 0]],
  },
  {
    desc: '5 groups, canary 0→10→20→50→20→0, others fixed',
    groups: ['a', 'b', 'c', 'd', 'canary'],
    steps: [
      [40, 25, 15, 10, 0],
      [40, 25, 15, 10, 10],
      [40, 25, 15, 10, 20],
      [40, 25, 15, 10, 50],
      [40, 25, 15, 10, 20],
      [40, 25, 15, 10, 0],
    ],
  },
  {
    desc: '5 groups, canary and the largest group change at once',
    groups: ['a', 'b', 'c', 'd', 'canary'],
    steps: [
      [45, 25, 15, 10, 5],
      [40, 25, 15, 10, 10],
      [30, 25, 15, 10, 20],
      [0, 25, 15, 10, 50],
      [30, 25, 15, 10, 20],
      [50, 25, 15, 10, 0],
    ],
  },
]

describe('monotone stickiness over 100 000 cookie ids', () => {
  it.each(scenarios)('$desc', ({ groups, steps }) => {
    let before = assign(groups, steps[0]!)
    expectSharesMatchWeights(before, steps[0]!, `step 0 ${steps[0]!.join('/')}`)
    for (let s = 1; s < steps.length; s++) {
      const from = steps[s - 1]!
      const to = steps[s]!
      const label = `step ${s} ${from.join('/')} → ${to.join('/')}`
      const after = assign(groups, to)
      const changed = groups.map((_, g) => to[g] !== from[g])
      const onlyChanged = changed.filter(Boolean).length === 1 ? changed.indexOf(true) : -1
      let wrongDirection = 0
      let betweenUnchanged = 0
      let againstRule = 0
      let moved = 0
      for (let k = 0; k < after.length; k++) {
        const x = before[k]!
        const y = after[k]!
        if (x === y) continue
        moved++
        if (!(to[y]! > from[y]! || to[x]! < from[x]!)) againstRule++
        if (!changed[x] && !changed[y]) betweenUnchanged++
        if (onlyChanged >= 0) {
          const rose = to[onlyChanged]! > from[onlyChanged]!
          if (rose ? y !== onlyChanged : x !== onlyChanged) wrongDirection++
        }
      }
      expect({ label, wrongDirection, betweenUnchanged, againstRule }).toEqual({
        label,
        wrongDirection: 0,
        betweenUnchanged: 0,
        againstRule: 0,
      })
      // The step changed the shares, so some keys must have moved (the checks above are not vacuous).
      expect(moved, label).toBeGreaterThan(0)
      expectSharesMatchWeights(after, to, label)
      before = after
    }
  })

  it('moves no key when all weights scale by the same factor', () => {
    const groups = ['0.9', '1.0', 'canary']
    expect(countMoved(assign(groups, [60, 40, 10]), assign(groups, [120, 80, 20]))).toBe(0)
  })

  // The moved keys are Binomial(n, 0.1): sd 0.095 pp, so ±1 pp is > 10 sigma.
  it('moves only the changed share: raising the canary from 10 to 20 of 100 moves about 10 % of keys', () => {
    const groups = ['stable', 'canary']
    const moved = countMoved(assign(groups, [90, 10]), assign(groups, [80, 20]))
    expect(Math.abs(moved / KEYS.length - 0.1)).toBeLessThanOrEqual(0.01)
  })
})
