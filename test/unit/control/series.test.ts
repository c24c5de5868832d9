import { describe, expect, it } from 'vitest'
import type { Config } from '../../../src/config/types.js'
import { SeriesSampler } from '../../../src/control/series.js'
import { countResponses, errorRateOf, quantileOf } from '../../../src/control/series-math.js'
import { StatsRegistry, type GroupStats } from '../../../src/upstream/stats.js'

const BOUNDS = [0.1, 0.2, 0.5]

describe('quantileOf', () => {
  const cases: { desc: string; counts: number[]; q: number; expected: number | undefined }[] = [
    { desc: 'empty histogram', counts: [0, 0, 0, 0], q: 0.5, expected: undefined },
    { desc: 'all in the first bucket: interpolated from 0', counts: [10, 0, 0, 0], q: 0.5, expected: 0.05 },
    { desc: 'median at the edge of two buckets', counts: [5, 5, 0, 0], q: 0.5, expected: 0.1 },
    { desc: 'inside the second bucket', counts: [5, 10, 0, 0], q: 0.5, expected: 0.1 + 0.1 * (2.5 / 10) },
    { desc: 'p99 in the last finite bucket', counts: [0, 0, 100, 0], q: 0.99, expected: 0.2 + 0.3 * 0.99 },
    { desc: '+Inf bucket reads as the last bound', counts: [1, 0, 0, 99], q: 0.99, expected: 0.5 },
    { desc: 'empty buckets before the rank are skipped', counts: [0, 4, 0, 0], q: 0.25, expected: 0.125 },
  ]
  for (const { desc, counts, q, expected } of cases) {
    it(desc, () => {
      const value = quantileOf(counts, BOUNDS, q)
      if (expected === undefined) expect(value).toBeUndefined()
      else expect(value).toBeCloseTo(expected, 12)
    })
  }
})

describe('errorRateOf', () => {
  it('adds 5xx answers and failed attempts over requests, up to 1', () => {
    expect(errorRateOf(0, 0, 3)).toBeUndefined()
    expect(errorRateOf(100, 2, 3)).toBe(0.05)
    expect(errorRateOf(4, 4, 2)).toBe(1)
  })
})

describe('countResponses', () => {
  it('counts every status from 100 and the 5xx among them', () => {
    const byStatus = new Float64Array(600)
    byStatus[200] = 7
    byStatus[404] = 2
    byStatus[502] = 1
    byStatus[599] = 1
    expect(countResponses(byStatus)).toEqual({ responses: 11, answered5xx: 2 })
  })
})

const config = {
  services: [
    { name: 'svc', groups: [{ name: 'blue' }, { name: 'green' }] },
    { name: 'other', groups: [{ name: 'only' }] },
  ],
} as unknown as Config

/** A sampler on fake clocks: each sample() advances both by `stepMs`. */
function setup(options: { windowMs?: number; intervalMs?: number } = {}) {
  const stats = new StatsRegistry(config)
  let wall = 1_700_000_000_000
  let mono = 0
  const sampler = new SeriesSampler(stats, { now: () => wall, monotonic: () => mono, ...options })
  const group = (service: string, name: string) => stats.forService(service).get(name)!
  const tick = (stepMs = options.intervalMs ?? 2_000) => {
    wall += stepMs
    mono += stepMs
    sampler.sample()
  }
  return { stats, sampler, group, tick }
}

function answer(group: GroupStats, status: number, seconds: number, times = 1): void {
  for (let i = 0; i < times; i++) {
    group.recordStatus(status)
    group.recordDuration(seconds)
  }
}

describe('SeriesSampler', () => {
  it('has no points before the first sample, and counts nothing from before it was made', () => {
    const t = setup()
    answer(t.group('svc', 'blue'), 200, 0.003, 5)
    const before = new SeriesSampler(t.stats)
    expect(before.seriesOf('svc')).toMatchObject({ times: [], seconds: 0, intervalSeconds: 2, windowSeconds: 600 })
    before.sample()
    expect(before.seriesOf('svc')!.groups[0]!.requests).toEqual([0])
    expect(before.seriesOf('nope')).toBeUndefined()
  })

  it('keeps per-point deltas: requests, req/s, error rate, p50 and p99', () => {
    const t = setup()
    const blue = t.group('svc', 'blue')
    answer(blue, 200, 0.003, 98)
    answer(blue, 503, 0.003, 2)
    blue.upstreamErrors.connect += 1
    t.tick()
    t.tick()
    answer(blue, 200, 0.02, 10)
    t.tick()
    const series = t.sampler.seriesOf('svc')!
    expect(series.times).toEqual([1_700_000_002_000, 1_700_000_004_000, 1_700_000_006_000])
    expect(series.seconds).toBe(6)
    const [b, g] = series.groups
    expect(b!.name).toBe('blue')
    expect(b!.requests).toEqual([100, 0, 10])
    expect(b!.rps).toEqual([50, 0, 5])
    expect(b!.errorRate).toEqual([0.03, null, 0])
    // 100 answers in the (2.5 ms, 5 ms] bucket: the median is half-way through it.
    expect(b!.p50[0]).toBeCloseTo(0.00375, 6)
    expect(b!.p50[1]).toBeNull()
    // 10 answers in (10 ms, 25 ms]: p99 is 99 % of the way through it.
    expect(b!.p99[2]).toBeCloseTo(0.01 + 0.015 * 0.99, 6)
    expect(g!.requests).toEqual([0, 0, 0])
    expect(g!.window.share).toBe(0)
    expect(b!.window).toMatchObject({ requests: 110, share: 1, answered5xx: 2, upstreamFailures: 1, errorRate: 0.0273 })
    expect(b!.window.rps).toBeCloseTo(110 / 6, 3)
  })

  it('observed share is each group\'s part of the service\'s requests in the window', () => {
    const t = setup()
    answer(t.group('svc', 'blue'), 200, 0.001, 30)
    answer(t.group('svc', 'green'), 200, 0.001, 10)
    answer(t.group('other', 'only'), 200, 0.001, 1000)
    t.tick()
    const [blue, green] = t.sampler.seriesOf('svc')!.groups
    expect(blue!.window.share).toBe(0.75)
    expect(green!.window.share).toBe(0.25)
  })

  it('forgets points older than the window: a fixed ring, oldest first', () => {
    const t = setup({ windowMs: 10_000, intervalMs: 2_000 })
    const blue = t.group('svc', 'blue')
    for (let i = 1; i <= 8; i++) {
      answer(blue, 200, 0.001, i)
      t.tick()
    }
    const series = t.sampler.seriesOf('svc')!
    expect(series.windowSeconds).toBe(10)
    expect(series.groups[0]!.requests).toEqual([4, 5, 6, 7, 8])
    expect(series.times).toEqual([8, 10, 12, 14, 16].map((s) => 1_700_000_000_000 + s * 1000))
    expect(series.groups[0]!.window.requests).toBe(30)
  })

  it('divides by the time a point really covers (a late timer)', () => {
    const t = setup()
    answer(t.group('svc', 'blue'), 200, 0.001, 50)
    t.tick(5_000)
    expect(t.sampler.seriesOf('svc')!.groups[0]!.rps).toEqual([10])
  })

  it('samples on an unref\'d timer until stopped', async () => {
    const stats = new StatsRegistry(config)
    const sampler = new SeriesSampler(stats, { intervalMs: 10 })
    sampler.start()
    await new Promise((resolve) => setTimeout(resolve, 60))
    sampler.stop()
    const points = sampler.seriesOf('svc')!.times.length
    expect(points).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(sampler.seriesOf('svc')!.times.length).toBe(points)
  })
})
