import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ALPHABET, mulberry32 } from '../../helpers/routing-fixtures.js'
import { hashString, pairUniform, rendezvousIndex, type RendezvousCandidate } from '../../../src/routing/rendezvous.js'
import { builtFile } from '../../helpers/built.js'

/** Random strings shaped like cookie ids (22 base64url characters, 132 bits). */
function cookieIds(count: number, seed: number): string[] {
  const random = mulberry32(seed)
  const keys: string[] = []
  for (let i = 0; i < count; i++) {
    let key = ''
    for (let j = 0; j < 22; j++) key += ALPHABET[Math.floor(random() * 64)]
    keys.push(key)
  }
  return keys
}

/** Pearson's chi-square statistic of uniform values over `buckets` equal buckets. */
function chiSquare(values: readonly number[], buckets: number): number {
  const counts = new Array<number>(buckets).fill(0)
  for (const value of values) counts[Math.floor(value * buckets)]!++
  const expected = values.length / buckets
  let sum = 0
  for (const count of counts) sum += (count - expected) ** 2 / expected
  return sum
}

// Upper-tail chi-square critical values at p = 1e-7 (scipy.stats.chi2.isf(1e-7, df)). At most three
// chi-square checks run here, so a correct hash fails this file with probability < 3e-7 < 1e-6.
// The keys come from fixed seeds, so the outcome is deterministic anyway: it never flakes.
const CHI2_DF19_P1E7 = 69.78
const CHI2_DF99_P1E7 = 190.23

describe('hashString', () => {
  // Pinned once from the implementation: a restarted proxy or another replica must route a key the
  // same way, so these numbers may never change without a deliberate, announced migration.
  it.each([
    ['', 3338908027751811],
    ['a', 7929297801672961],
    ['0.9', 3843274485998725],
    ['1.0', 5962534053371021],
    ['canary', 7451590797542684],
    ['zdd_client', 2569099354331410],
    ['Xq3v9ZkP2mLr8TbW1nYc0A', 2408043818947980],
    ['ünïcødé ✓', 8926459090459688],
    ['🙂', 5813621503378343],
    ['x'.repeat(1000), 7451676703532859],
  ])('hashString(%j) is pinned', (text, expected) => {
    expect(hashString(text)).toBe(expected)
  })

  it('returns non-negative integers below 2^53', () => {
    for (const key of cookieIds(2000, 7)) {
      const hash = hashString(key)
      expect(Number.isSafeInteger(hash) && hash >= 0).toBe(true)
    }
  })
})

describe('pairUniform', () => {
  it.each([
    [0, 0, 0.6650141070484636],
    [1, 1, 0.3027494607857754],
    [2408043818947980, 3843274485998725, 0.7075600576653078],
    [2408043818947980, 5962534053371021, 0.9428406372048825],
    [2 ** 53 - 1, 2 ** 53 - 1, 0.11137368734950265],
    [123456789, 7451590797542684, 0.46172760959439924],
  ])('pairUniform(%d, %d) is pinned', (keyHash, groupHash, expected) => {
    expect(pairUniform(keyHash, groupHash)).toBe(expected)
  })

  it('is in (0, 1) and uniform over 20 buckets for random cookie ids (200 000 samples)', () => {
    const groups = ['0.9', '1.0', 'canary', 'blue', 'green'].map(hashString)
    const values: number[] = []
    for (const key of cookieIds(40_000, 11)) {
      const keyHash = hashString(key)
      for (const group of groups) values.push(pairUniform(keyHash, group))
    }
    expect(values.every((u) => u > 0 && u < 1)).toBe(true)
    expect(chiSquare(values, 20)).toBeLessThan(CHI2_DF19_P1E7)
  })

  it('is uniform for sequential, similar keys (client addresses)', () => {
    const group = hashString('1.0')
    const values: number[] = []
    for (let i = 0; i < 200_000; i++) {
      values.push(pairUniform(hashString(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`), group))
    }
    expect(values.every((u) => u > 0 && u < 1)).toBe(true)
    expect(chiSquare(values, 20)).toBeLessThan(CHI2_DF19_P1E7)
  })

  it('gives one key independent values for two groups (10 x 10 joint buckets)', () => {
    // Rendezvous shares are only right if a key's draws for different groups are independent.
    const blue = hashString('blue')
    const green = hashString('green')
    const counts = new Array<number>(100).fill(0)
    const keys = cookieIds(100_000, 13)
    for (const key of keys) {
      const keyHash = hashString(key)
      const row = Math.floor(pairUniform(keyHash, blue) * 10)
      const column = Math.floor(pairUniform(keyHash, green) * 10)
      counts[row * 10 + column]!++
    }
    const expected = keys.length / 100
    let statistic = 0
    for (const count of counts) statistic += (count - expected) ** 2 / expected
    expect(statistic).toBeLessThan(CHI2_DF99_P1E7)
  })
})

describe('rendezvousIndex', () => {
  const candidates = (weights: readonly number[]): RendezvousCandidate[] =>
    weights.map((weight, i) => ({ weight, hash: hashString(`group-${i}`) }))

  it.each([
    { desc: 'no candidates', weights: [] },
    { desc: 'all weights 0', weights: [0, 0, 0] },
    { desc: 'negative and NaN weights', weights: [-1, Number.NaN] },
  ])('returns -1 for $desc', ({ weights }) => {
    expect(rendezvousIndex(hashString('some-key'), candidates(weights))).toBe(-1)
  })

  it('never picks a candidate with weight 0', () => {
    const list = candidates([0, 5, 0, 1])
    for (const key of cookieIds(5000, 17)) {
      const index = rendezvousIndex(hashString(key), list)
      expect(index === 1 || index === 3).toBe(true)
    }
  })

  it('does not depend on candidate order', () => {
    const list = candidates([3, 1, 2])
    const reversed = [...list].reverse()
    for (const key of cookieIds(5000, 19)) {
      const keyHash = hashString(key)
      expect(list[rendezvousIndex(keyHash, list)]).toBe(reversed[rendezvousIndex(keyHash, reversed)])
    }
  })
})

describe('determinism across processes', () => {
  const built = builtFile('routing/rendezvous.ts')

  it('a separate node process (the built module) routes 1000 keys exactly like this one', () => {
    expect(existsSync(built), 'run `npm run build` first').toBe(true)
    const groups = ['0.9', '1.0', 'canary']
    const weights = [60, 30, 10]
    const keys = cookieIds(1000, 23)
    // The child reads {keys, groups, weights} on stdin and prints [hash, index, u] per key.
    const script = `
      import { hashString, pairUniform, rendezvousIndex } from ${JSON.stringify(pathToFileURL(built).href)}
      let text = ''
      for await (const chunk of process.stdin) text += chunk
      const { keys, groups, weights } = JSON.parse(text)
      const candidates = groups.map((name, i) => ({ weight: weights[i], hash: hashString(name) }))
      const out = keys.map((key) => {
        const hash = hashString(key)
        return [hash, rendezvousIndex(hash, candidates), pairUniform(hash, candidates[0].hash)]
      })
      process.stdout.write(JSON.stringify(out))
    `
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      input: JSON.stringify({ keys, groups, weights }),
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
    const candidates = groups.map((name, i) => ({ weight: weights[i]!, hash: hashString(name) }))
    const here = keys.map((key) => {
      const hash = hashString(key)
      return [hash, rendezvousIndex(hash, candidates), pairUniform(hash, candidates[0]!.hash)]
    })
    expect(JSON.parse(child.stdout)).toEqual(here)
    // Every group got some of the keys, so the comparison says something about each of them.
    expect(new Set(here.map((row) => row[1])).size).toBe(3)
  })
})
