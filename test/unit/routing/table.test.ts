import { describe, expect, it } from 'vitest'
import type { ServiceConfig } from '../../../src/config/types.js'
import { buildRouteTable, buildServiceRoute } from '../../../src/routing/table.js'

/** A service of groups named by `weights`' keys; only names matter to the table builder. */
function service(weights: Record<string, number>): ServiceConfig {
  return { name: 'svc', groups: Object.keys(weights).map((name) => ({ name })), weights } as unknown as ServiceConfig
}

describe('buildServiceRoute', () => {
  it.each<{ weights: Record<string, number>; live: string[]; shares: Record<string, number> }>([
    { weights: { a: 80, b: 20 }, live: ['a', 'b'], shares: { a: 0.8, b: 0.2 } },
    { weights: { a: 1, b: 1, c: 2 }, live: ['a', 'b', 'c'], shares: { a: 0.25, b: 0.25, c: 0.5 } },
    { weights: { a: 0.1, b: 0.3 }, live: ['a', 'b'], shares: { a: 0.25, b: 0.75 } },
    { weights: { a: 0, b: 5, c: 0 }, live: ['a', 'b', 'c'], shares: { a: 0, b: 1, c: 0 } },
    // A group without a live instance takes no share; the others split what is left.
    { weights: { a: 80, b: 20 }, live: ['b'], shares: { a: 0, b: 1 } },
    { weights: { a: 1, b: 1, c: 2 }, live: ['a', 'b'], shares: { a: 0.5, b: 0.5, c: 0 } },
    { weights: { a: 1, b: 1 }, live: [], shares: { a: 0, b: 0 } },
  ])('weights $weights with live $live share $shares', ({ weights, live, shares }) => {
    const route = buildServiceRoute(service(weights), weights, new Map(live.map((group) => [group, [`${group}-1`]])))
    for (const [group, share] of Object.entries(shares)) expect(route.groupsByName.get(group)!.share).toBeCloseTo(share, 12)
    expect(route.candidates.map((group) => group.name)).toEqual(Object.keys(shares).filter((group) => shares[group]! > 0))
  })

  it('keeps the weights as set, and groups left out of them at 0', () => {
    const route = buildServiceRoute(service({ a: 3, b: 1 }), { a: 3 }, new Map([['a', ['x']], ['b', ['y']]]))
    expect(route.groups.map((group) => [group.name, group.weight])).toEqual([
      ['a', 3],
      ['b', 0],
    ])
  })

  it('freezes what it builds, and the table names its revision', () => {
    const route = buildServiceRoute(service({ a: 1 }), { a: 1 }, new Map([['a', ['x']]]))
    const table = buildRouteTable(7, [route])
    expect(table.revision).toBe(7)
    expect(table.servicesByName.get('svc')).toBe(route)
    expect(Object.isFrozen(table) && Object.isFrozen(route) && Object.isFrozen(route.groups[0]!.instances)).toBe(true)
  })
})
