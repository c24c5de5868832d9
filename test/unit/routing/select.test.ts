import { describe, expect, it } from 'vitest'
import { serviceConfig } from '../../helpers/routing-fixtures.js'
import { hashString } from '../../../src/routing/rendezvous.js'
import { chooseGroup, homeGroup, redispatchGroup } from '../../../src/routing/select.js'
import { buildRouteTable, buildServiceRoute } from '../../../src/routing/table.js'
import type { ServiceConfig } from '../../../src/config/types.js'
import type { ServiceRoute } from '../../../src/routing/types.js'

interface Instance {
  readonly id: string
  readonly inflight: number
}

/** `count` live instances per group, named after the group. */
function live(counts: Readonly<Record<string, number>>): Map<string, Instance[]> {
  const map = new Map<string, Instance[]>()
  for (const [group, count] of Object.entries(counts)) {
    map.set(group, Array.from({ length: count }, (_, i) => ({ id: `${group}#${i}`, inflight: 0 })))
  }
  return map
}

/** Deterministic key hashes: hashString of `user-<i>`. */
const keyHashes = (count: number): number[] => Array.from({ length: count }, (_, i) => hashString(`user-${i}`))

const GROUPS = ['0.9', '1.0', 'canary']

/** The service config with its override policy set to `allow`. */
function withOverride(config: ServiceConfig, allow: 'weighted' | 'any'): ServiceConfig {
  return { ...config, override: { ...config.override, allow } }
}

function route(
  weights: Readonly<Record<string, number>>,
  counts: Readonly<Record<string, number>>,
): ServiceRoute<Instance> {
  return buildServiceRoute(serviceConfig(GROUPS), weights, live(counts))
}

describe('buildServiceRoute', () => {
  it('keeps every configured group in config order, with its hash and weight (missing: 0)', () => {
    const built = route({ canary: 10, '0.9': 90 }, { '0.9': 2, '1.0': 1, canary: 1 })
    expect(built.name).toBe('svc')
    expect(built.groups.map((group) => [group.name, group.hash, group.weight])).toEqual([
      ['0.9', hashString('0.9'), 90],
      ['1.0', hashString('1.0'), 0],
      ['canary', hashString('canary'), 10],
    ])
    expect([...built.groupsByName.keys()]).toEqual(GROUPS)
    expect(built.groupsByName.get('canary')).toBe(built.groups[2])
  })

  it('normalises shares over candidates: weight > 0 and at least one live instance', () => {
    const built = route({ '0.9': 50, '1.0': 30, canary: 20 }, { '0.9': 3, '1.0': 1 })
    expect(built.groups.map((group) => group.share)).toEqual([50 / 80, 30 / 80, 0])
    expect(built.candidates.map((group) => group.name)).toEqual(['0.9', '1.0'])
  })

  it.each<{ desc: string; counts: Record<string, number> }>([
    { desc: 'absent from the live map', counts: { '0.9': 1, '1.0': 1 } },
    { desc: 'with an empty instance list', counts: { '0.9': 1, '1.0': 1, canary: 0 } },
  ])('gives a group $desc share 0', ({ counts }) => {
    const built = route({ '0.9': 1, '1.0': 1, canary: 2 }, counts)
    expect(built.groupsByName.get('canary')!.share).toBe(0)
    expect(built.candidates.map((group) => group.share)).toEqual([0.5, 0.5])
  })

  it('gives a group with weight 0 share 0 even with live instances', () => {
    const built = route({ '0.9': 1, '1.0': 0, canary: 3 }, { '0.9': 1, '1.0': 4, canary: 1 })
    expect(built.groups.map((group) => group.share)).toEqual([0.25, 0, 0.75])
    expect(built.groupsByName.get('1.0')!.instances).toHaveLength(4)
  })

  it('freezes the route, its groups, their instance lists and the candidates', () => {
    const built = route({ '0.9': 1, '1.0': 1 }, { '0.9': 1, '1.0': 1 })
    expect(Object.isFrozen(built)).toBe(true)
    expect(Object.isFrozen(built.groups)).toBe(true)
    expect(Object.isFrozen(built.candidates)).toBe(true)
    for (const group of built.groups) {
      expect(Object.isFrozen(group)).toBe(true)
      expect(Object.isFrozen(group.instances)).toBe(true)
    }
  })

  it('copies the instance lists, so later changes to the input do not leak into the snapshot', () => {
    const instances = live({ '0.9': 2, '1.0': 1 })
    const built = buildServiceRoute(serviceConfig(GROUPS), { '0.9': 1, '1.0': 1 }, instances)
    instances.get('0.9')!.pop()
    instances.set('canary', [{ id: 'late', inflight: 0 }])
    expect(built.groupsByName.get('0.9')!.instances).toHaveLength(2)
    expect(built.groupsByName.get('canary')!.instances).toHaveLength(0)
  })
})

describe('buildRouteTable', () => {
  it('is frozen and versioned, and finds services by name', () => {
    const a = buildServiceRoute(serviceConfig(GROUPS, 'a'), { '0.9': 1 }, live({ '0.9': 1 }))
    const b = buildServiceRoute(serviceConfig(GROUPS, 'b'), { '1.0': 1 }, live({ '1.0': 1 }))
    const services = [a, b]
    const table = buildRouteTable(7, services)
    services.pop()
    expect(table.revision).toBe(7)
    expect(table.services).toEqual([a, b])
    expect(table.servicesByName.get('b')).toBe(b)
    expect(Object.isFrozen(table)).toBe(true)
    expect(Object.isFrozen(table.services)).toBe(true)
  })
})

describe('chooseGroup', () => {
  const keys = keyHashes(20_000)

  it('routes to the group an override names when it has live instances and a weight', () => {
    const built = route({ '0.9': 90, '1.0': 0, canary: 10 }, { '0.9': 1, '1.0': 1, canary: 1 })
    for (const key of keys.slice(0, 1000)) expect(chooseGroup(built, 'canary', key)?.name).toBe('canary')
  })

  it('keeps an override out of a weight-0 group unless the service allows any group', () => {
    const weights = { '0.9': 100, '1.0': 0, canary: 0 }
    const counts = { '0.9': 1, '1.0': 1, canary: 1 }
    const weighted = route(weights, counts)
    const any = buildServiceRoute(withOverride(serviceConfig(GROUPS), 'any'), weights, live(counts))
    for (const key of keys.slice(0, 1000)) {
      expect(chooseGroup(weighted, '1.0', key)?.name).toBe('0.9')
      expect(chooseGroup(any, '1.0', key)?.name).toBe('1.0')
    }
  })

  it('honours an allowed override when no group is a candidate', () => {
    const built = buildServiceRoute(withOverride(serviceConfig(GROUPS), 'any'), { '0.9': 1, '1.0': 0 }, live({ '1.0': 1 }))
    expect(built.candidates).toHaveLength(0)
    expect(chooseGroup(built, '1.0', keys[0]!)?.name).toBe('1.0')
    expect(chooseGroup(built, undefined, keys[0]!)).toBeUndefined()
  })

  it('never lets an override into a group a cut-over drains, even with allow "any"', () => {
    const drained = buildServiceRoute(withOverride(serviceConfig(GROUPS), 'any'), { '0.9': 0, '1.0': 100 }, live({ '0.9': 1, '1.0': 1 }), new Set(['0.9']))
    expect(drained.groupsByName.get('0.9')!.draining).toBe(true)
    for (const key of keys.slice(0, 1000)) expect(chooseGroup(drained, '0.9', key)?.name).toBe('1.0')
  })

  it.each([
    { desc: 'an unknown group', override: 'green' },
    { desc: 'an empty name', override: '' },
    { desc: 'a name from Object.prototype', override: 'constructor' },
    { desc: 'a group without live instances', override: 'canary' },
  ])('ignores an override naming $desc and routes by weight', ({ override }) => {
    const built = route({ '0.9': 60, '1.0': 30, canary: 10 }, { '0.9': 2, '1.0': 1 })
    for (const key of keys.slice(0, 2000)) {
      const chosen = chooseGroup(built, override, key)
      expect(chosen).toBe(chooseGroup(built, undefined, key))
      expect(chosen?.name).not.toBe('canary')
    }
  })

  it('sends the keys of a group without live instances elsewhere and moves no other key', () => {
    const weights = { '0.9': 50, '1.0': 30, canary: 20 }
    const all = route(weights, { '0.9': 1, '1.0': 1, canary: 1 })
    const withoutCanary = route(weights, { '0.9': 1, '1.0': 1 })
    const counts: Record<string, number> = { '0.9': 0, '1.0': 0, canary: 0 }
    for (const key of keys) {
      const before = chooseGroup(all, undefined, key)!.name
      const after = chooseGroup(withoutCanary, undefined, key)!.name
      expect(after).not.toBe('canary')
      if (before !== 'canary') expect(after).toBe(before)
      counts[after]!++
    }
    // The canary's share goes to the others in proportion to their weights (5/8 and 3/8). With
    // n = 20 000 a share's sd is at most 0.354 pp, so ±2 pp is > 5.6 sigma: < 1e-7 per check.
    expect(Math.abs(counts['0.9']! / keys.length - 5 / 8)).toBeLessThanOrEqual(0.02)
  })

  it.each([0, 1, 2 ** 53 - 1, -1, Number.NaN])('returns the single candidate for any keyHash (%d)', (key) => {
    const built = route({ '0.9': 0, '1.0': 5, canary: 5 }, { '0.9': 1, '1.0': 1 })
    expect(built.candidates).toHaveLength(1)
    expect(chooseGroup(built, undefined, key)?.name).toBe('1.0')
  })

  it.each<{ desc: string; weights: Record<string, number>; counts: Record<string, number> }>([
    { desc: 'no group has live instances', weights: { '0.9': 1, '1.0': 1 }, counts: {} },
    { desc: 'every live group has weight 0', weights: { '0.9': 1, '1.0': 0 }, counts: { '1.0': 3 } },
  ])('returns undefined when $desc', ({ weights, counts }) => {
    const built = route(weights, counts)
    for (const key of keys.slice(0, 100)) expect(chooseGroup(built, undefined, key)).toBeUndefined()
  })

  it('chooses only among candidates, in proportion to their shares', () => {
    const built = route({ '0.9': 3, '1.0': 1, canary: 4 }, { '0.9': 1, canary: 2 })
    let canary = 0
    for (const key of keys) {
      const chosen = chooseGroup(built, undefined, key)!
      expect(built.candidates).toContain(chosen)
      if (chosen.name === 'canary') canary++
    }
    // Share 4/7; same ±2 pp bound as above.
    expect(Math.abs(canary / keys.length - 4 / 7)).toBeLessThanOrEqual(0.02)
  })
})

describe('homeGroup and redispatchGroup', () => {
  const weights = { '0.9': 60, '1.0': 30, canary: 10 }
  const keys = keyHashes(20_000)

  it("a key's home is where chooseGroup sends it while every group is live", () => {
    const up = route(weights, { '0.9': 2, '1.0': 2, canary: 1 })
    for (const key of keys) expect(homeGroup(up, key)).toBe(chooseGroup(up, undefined, key))
  })

  it("with its home group down, a key goes where chooseGroup sends it, and only keys of that group move", () => {
    const up = route(weights, { '0.9': 2, '1.0': 2, canary: 1 })
    const down = route(weights, { '0.9': 2, canary: 1 })
    let moved = 0
    for (const key of keys) {
      const home = homeGroup(down, key)!
      const now = chooseGroup(down, undefined, key)!
      if (home.name !== '1.0') {
        // Keys of the live groups stay where they were.
        expect(now.name).toBe(home.name)
        continue
      }
      moved++
      // The request that found 1.0 empty (or refusing) is redispatched exactly where new requests of
      // that key go now, and back home once 1.0 is up again.
      expect(redispatchGroup(down, key, home)).toBe(now)
      expect(redispatchGroup(up, key, up.groupsByName.get('1.0')!)!.name).toBe(now.name)
      expect(chooseGroup(up, undefined, key)!.name).toBe('1.0')
    }
    expect(moved).toBeGreaterThan(0)
  })

  it('spreads the redispatched keys over the other groups by their weights', () => {
    const up = route(weights, { '0.9': 2, '1.0': 2, canary: 1 })
    const from = up.groupsByName.get('1.0')!
    const counts = new Map<string, number>()
    for (const key of keys) {
      const to = redispatchGroup(up, key, from)!
      expect(to).not.toBe(from)
      counts.set(to.name, (counts.get(to.name) ?? 0) + 1)
    }
    // 60 : 10 over 20 000 fixed keys (the same every run): the 0.9 share is 6/7, binomial sd 0.25 %.
    expect(Math.abs(counts.get('0.9')! / keys.length - 6 / 7)).toBeLessThan(0.03)
    const alone = route({ '1.0': 1 }, { '1.0': 1 })
    expect(redispatchGroup(alone, keys[0]!, alone.groupsByName.get('1.0')!)).toBeUndefined()
  })
})

