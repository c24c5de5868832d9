import { describe, expect, it } from 'vitest'
import type { OutlierDetectionConfig } from '../../../src/config/types.js'
import { countedEjections, ejectionAllowed, ejectionMs, failuresEject, fivexxEject, groupCensus } from '../../../src/health/passive.js'
import { eject, endEjection, initialFacts } from '../../../src/health/status.js'

const rule: OutlierDetectionConfig = {
  consecutiveFailures: 1,
  consecutive5xx: 5,
  baseEjectionSeconds: 30,
  maxEjectionSeconds: 300,
  maxEjectionPercent: 50,
  unejectOnPassingCheck: true,
}

describe('passive outlier rules', () => {
  it('ejects on local failures in a row, not on other failures', () => {
    expect(failuresEject('connect', 1, rule)).toBe(true)
    expect(failuresEject('reset', 1, rule)).toBe(true)
    expect(failuresEject('timeout', 1, rule)).toBe(true)
    expect(failuresEject('other', 5, rule)).toBe(false)
    expect(failuresEject('connect', 2, { ...rule, consecutiveFailures: 3 })).toBe(false)
    expect(failuresEject('connect', 3, { ...rule, consecutiveFailures: 3 })).toBe(true)
    expect(failuresEject('connect', 99, { ...rule, consecutiveFailures: 0 })).toBe(false)
  })

  it('ejects on 5xx streaks at the threshold', () => {
    expect(fivexxEject(4, rule)).toBe(false)
    expect(fivexxEject(5, rule)).toBe(true)
    expect(fivexxEject(50, { ...rule, consecutive5xx: 0 })).toBe(false)
  })

  it('backs off: base × ejections, capped', () => {
    expect([0, 1, 2, 9, 10, 20].map((previous) => ejectionMs(previous, rule))).toEqual([30_000, 60_000, 90_000, 300_000, 300_000, 300_000])
    expect(ejectionMs(3, { ...rule, baseEjectionSeconds: 2, maxEjectionSeconds: 1 })).toBe(2_000)
  })

  it('forgets ejections after an instance stayed in for maxEjectionSeconds', () => {
    const ended = endEjection(eject(eject(initialFacts(0, false, 0), 0, 1), 0, 1), 10, false)
    expect(countedEjections(ended, 10 + 300_000, rule)).toBe(2)
    expect(countedEjections(ended, 10 + 300_001, rule)).toBe(0)
  })

  // `healthy` counts the instance being judged; the others have failed or are ejected.
  const guard: { desc: string; ejected: number; size: number; healthy?: number; otherLive: boolean; percent?: number; refusing?: boolean; allowed: boolean }[] = [
    { desc: '1 of 2', ejected: 0, size: 2, otherLive: false, allowed: true },
    { desc: '2 of 2', ejected: 1, size: 2, otherLive: true, allowed: false },
    { desc: '2 of 4', ejected: 1, size: 4, otherLive: false, allowed: true },
    { desc: '3 of 4', ejected: 2, size: 4, otherLive: true, allowed: false },
    { desc: '2 of 3 (rounds down)', ejected: 1, size: 3, otherLive: true, allowed: false },
    { desc: 'lone instance, other groups live', ejected: 0, size: 1, otherLive: true, allowed: true },
    { desc: 'lone instance, nothing else live', ejected: 0, size: 1, otherLive: false, allowed: false },
    { desc: 'maxEjectionPercent 0', ejected: 0, size: 4, otherLive: true, percent: 0, allowed: false },
    { desc: 'maxEjectionPercent 100: all', ejected: 3, size: 4, otherLive: false, percent: 100, allowed: true },
    // A refusing instance goes whenever another can serve, whatever the share already ejected.
    { desc: 'refusing, its sibling ejected, another group live', ejected: 1, size: 2, healthy: 1, otherLive: true, refusing: true, allowed: true },
    { desc: 'refusing, a healthy sibling left', ejected: 2, size: 4, healthy: 2, otherLive: false, refusing: true, allowed: true },
    { desc: 'refusing, but nothing else can serve', ejected: 1, size: 2, healthy: 1, otherLive: false, refusing: true, allowed: false },
    { desc: 'refusing, maxEjectionPercent 0 (ejection off)', ejected: 0, size: 2, healthy: 2, otherLive: true, percent: 0, refusing: true, allowed: false },
    { desc: 'not refusing, its sibling ejected, another group live', ejected: 1, size: 2, healthy: 1, otherLive: true, allowed: false },
  ]
  for (const { desc, ejected, size, healthy, otherLive, percent, refusing, allowed } of guard) {
    it(`panic guard: ${desc}`, () => {
      const census = { size, ejected, healthy: healthy ?? size - ejected, otherGroupsLive: otherLive }
      expect(ejectionAllowed(census, { ...rule, maxEjectionPercent: percent ?? 50 }, refusing)).toBe(allowed)
    })
  }

  it('counts a group for the panic guard: draining left out, live siblings only with weight', () => {
    const instances = [
      { group: 'a', health: 'healthy' as const },
      { group: 'a', health: 'ejected' as const },
      { group: 'a', health: 'draining' as const },
      { group: 'b', health: 'healthy' as const },
      { group: 'c', health: 'unhealthy' as const },
    ]
    expect(groupCensus(instances, 'a', { a: 1, b: 1, c: 1 })).toEqual({ size: 2, ejected: 1, healthy: 1, otherGroupsLive: true })
    expect(groupCensus(instances, 'a', { a: 1, b: 0, c: 1 })).toEqual({ size: 2, ejected: 1, healthy: 1, otherGroupsLive: false })
    expect(groupCensus(instances, 'c', { a: 1 })).toEqual({ size: 1, ejected: 0, healthy: 0, otherGroupsLive: true })
  })
})
