import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { snapshotServices, type SnapshotMessage, type ToWorker } from '../../../src/cluster/messages.js'
import { RemoteDrains } from '../../../src/cluster/primary/remote-drains.js'
import { ReportBuilder } from '../../../src/cluster/worker/reports.js'
import { WorkerFacts } from '../../../src/cluster/primary/facts.js'
import { buildWorkerTable } from '../../../src/cluster/worker/table.js'
import { parseConfig } from '../../../src/validation/config.js'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import { StatsRegistry } from '../../../src/upstream/stats.js'
import { UpstreamRegistry, type Upstream } from '../../../src/upstream/pools.js'

const A1 = '127.0.0.1:9001'
const A2 = '127.0.0.1:9002'
const B1 = '127.0.0.1:9003'

/**
 * A primary (control plane, stats, WorkerFacts) and two simulated workers, each with its own
 * registry, stats and ReportBuilder on tables built from the primary's snapshot.
 */
function setup() {
  const config = parseConfig(
    { services: [{ name: 'svc', groups: [{ name: 'a', backends: [A1, A2] }, { name: 'b', backends: [B1] }], weights: { a: 1, b: 1 } }] },
    {},
    'test.json',
  )
  const plane = new ControlPlane(config, new UpstreamRegistry(() => config.services[0]!.timeouts), pino({ level: 'silent' }))
  plane.setEndpoints('svc', 'a', [parseAddress(A1), parseAddress(A2)])
  plane.setEndpoints('svc', 'b', [parseAddress(B1)])
  const stats = new StatsRegistry(config)
  const facts = new WorkerFacts(() => plane.knownUpstreams(), stats)
  facts.onSwap(plane.snapshot.current)
  const snapshot = (): SnapshotMessage => ({
    type: 'snapshot',
    revision: plane.snapshot.current.revision,
    services: snapshotServices(plane.snapshot.current, plane.knownUpstreams()),
  })
  const worker = () => {
    const registry = new UpstreamRegistry(() => config.services[0]!.timeouts)
    const workerStats = new StatsRegistry(config)
    const reports = new ReportBuilder(workerStats)
    const { inUse } = buildWorkerTable(config, snapshot(), registry)
    for (const upstream of inUse) reports.track(upstream)
    const find = (key: string) => [...inUse].find((upstream) => upstream.key === key)!
    return { registry, stats: workerStats, reports, find }
  }
  const primary = (key: string): Upstream => plane.upstreams.acquire('svc', parseAddress(key))
  return { plane, stats, facts, worker, primary }
}

describe('a worker table from a pushed snapshot', () => {
  it('routes like the primary (weights, shares, live instances in order) and keeps pools of instances that are not live', () => {
    const { plane, worker } = setup()
    plane.setWeights('svc', { a: 3, b: 1 })
    plane.setLiveness((upstream) => upstream.key !== A2)
    const { registry } = worker()
    const config = plane.config
    const message: SnapshotMessage = {
      type: 'snapshot',
      revision: 42,
      services: snapshotServices(plane.snapshot.current, plane.knownUpstreams()),
    }
    expect(message.services[0]!.groups[0]).toEqual({
      name: 'a',
      weight: 3,
      instances: [{ host: '127.0.0.1', port: 9001 }],
      standby: [{ host: '127.0.0.1', port: 9002 }],
    })
    const built = buildWorkerTable(config, message, registry)
    const shape = (table: typeof built.table) =>
      table.services.map((service) => service.groups.map((group) => [group.name, group.weight, group.share, group.instances.map((i) => i.key)]))
    expect(built.table.revision).toBe(42)
    expect(shape(built.table)).toEqual(shape(plane.snapshot.current))
    expect([...built.inUse].map((upstream) => upstream.key).sort()).toEqual([A1, A2, B1])
    expect([...built.live].map((upstream) => upstream.key).sort()).toEqual([A1, B1])
  })
})

describe('worker reports applied in the primary', () => {
  it('sums load, keeps the longest streak and adds totals; an unchanged worker sends nothing', () => {
    const { facts, worker, primary } = setup()
    const one = worker()
    const two = worker()
    Object.assign(one.find(A1), { inflight: 2, consecutiveFailures: 3, responses: 5 })
    one.find(A1).failures.connect = 1
    Object.assign(two.find(A1), { inflight: 1, consecutiveFailures: 1, consecutive5xx: 4, responses: 2 })
    facts.apply(1, one.reports.build()!)
    facts.apply(2, two.reports.build()!)
    expect(primary(A1)).toMatchObject({ inflight: 3, consecutiveFailures: 3, consecutive5xx: 4, responses: 7 })
    expect(primary(A1).failures).toEqual({ connect: 1, reset: 0, timeout: 0, other: 0 })
    expect(primary(A2)).toMatchObject({ inflight: 0, responses: 0 })

    expect(one.reports.build()).toBeUndefined()
    one.find(A1).inflight = 0
    const report = one.reports.build()!
    expect(report.upstreams).toEqual([{ service: 'svc', key: A1, inflight: 0, consecutiveFailures: 3, consecutive5xx: 0, responses: 0, failures: {} }])
    facts.apply(1, report)
    expect(primary(A1)).toMatchObject({ inflight: 1, responses: 7 })

    // A worker that exits no longer adds load; its totals stay.
    facts.forgetWorker(2)
    expect(primary(A1)).toMatchObject({ inflight: 0, consecutiveFailures: 3, consecutive5xx: 0, responses: 7 })
  })

  it("adds each group's status, duration, error and retry deltas to the primary's stats", () => {
    const { stats, facts, worker } = setup()
    const one = worker()
    const a = one.stats.forService('svc').get('a')!
    for (const status of [200, 200, 503]) a.recordStatus(status)
    a.recordDuration(0.002)
    a.recordDuration(3)
    a.upstreamErrors.reset++
    a.retries++
    facts.apply(1, one.reports.build()!)
    a.recordStatus(200)
    a.recordDuration(0.002)
    facts.apply(1, one.reports.build()!)
    const seen = stats.forService('svc').get('a')!
    expect(seen.responsesByStatus[200]).toBe(3)
    expect(seen.responsesByStatus[503]).toBe(1)
    expect([...seen.durationCounts]).toEqual([...a.durationCounts])
    expect(seen.durationSum).toBeCloseTo(3.004)
    expect(seen.durationCount).toBe(3)
    expect(seen.upstreamErrors.reset).toBe(1)
    expect(seen.retries).toBe(1)
    expect(stats.forService('svc').get('b')!.durationCount).toBe(0)
  })

  it("clears the workers' stale streaks when an instance turns live again", () => {
    const { plane, facts, worker, primary } = setup()
    const one = worker()
    const two = worker()
    Object.assign(one.find(A1), { consecutive5xx: 5 })
    facts.apply(1, one.reports.build()!)
    expect(primary(A1).consecutive5xx).toBe(5)
    // Ejected, then live again: health clears the primary's streak; a worker's old value must not return.
    plane.setLiveness((upstream) => upstream.key !== A1)
    facts.onSwap(plane.snapshot.current)
    plane.setLiveness(() => true)
    primary(A1).consecutive5xx = 0
    facts.onSwap(plane.snapshot.current)
    Object.assign(two.find(A1), { inflight: 1 })
    facts.apply(2, two.reports.build()!)
    expect(primary(A1)).toMatchObject({ inflight: 1, consecutive5xx: 0 })
  })

  it('passes a failed attempt to health at once, with the streak', () => {
    const { facts, primary } = setup()
    const seen: [string, string, number][] = []
    primary(B1).onFailure = (upstream, kind) => seen.push([upstream.key, kind, upstream.consecutiveFailures])
    facts.applyFailure(1, { type: 'failure', service: 'svc', key: B1, kind: 'connect', consecutiveFailures: 2 })
    expect(seen).toEqual([[B1, 'connect', 2]])
  })

  it('forgets a drained instance once no worker reports requests on it', () => {
    const { plane, facts, worker, primary } = setup()
    const one = worker()
    const old = primary(A2)
    one.find(A2).inflight = 1
    facts.apply(1, one.reports.build()!)
    plane.setEndpoints('svc', 'a', [parseAddress(A1)])
    facts.onSwap(plane.snapshot.current)
    expect(old).toMatchObject({ draining: true, inflight: 1 })
    one.find(A2).inflight = 0
    one.find(A2).draining = true
    facts.apply(1, one.reports.build()!)
    expect(old.inflight).toBe(0)
    // The worker said its last word on it.
    one.find(A2).responses++
    expect(one.reports.build()).toBeUndefined()
  })
})

describe('RemoteDrains', () => {
  it('counts what workers still run on their detached pools and settles when every one is closed or gone', async () => {
    const { facts, worker, primary } = setup()
    const one = worker()
    one.find(A1).inflight = 2
    facts.apply(1, one.reports.build()!)
    const sent: [number, ToWorker][] = []
    const drains = new RemoteDrains({ ids: () => [1, 2, 3], send: (id, message) => sent.push([id, message]) }, facts)
    const remote = drains.detach(primary(A1))
    expect(sent.map(([id, message]) => [id, message.type])).toEqual([
      [1, 'detach'],
      [2, 'detach'],
      [3, 'detach'],
    ])
    // Until the workers report, their last known load on the instance counts.
    expect(remote.running()).toBe(2)
    let closed = false
    void remote.closed.then(() => (closed = true))
    drains.apply(1, [{ id: 1, running: 1, closed: false }])
    drains.apply(2, [{ id: 1, running: 0, closed: true }])
    expect(remote.running()).toBe(1)
    remote.destroy()
    expect(sent.slice(3).map(([id, message]) => [id, message])).toEqual([
      [1, { type: 'destroy-detached', id: 1 }],
      [3, { type: 'destroy-detached', id: 1 }],
    ])
    drains.apply(1, [{ id: 1, running: 0, closed: true }])
    await Promise.resolve()
    expect(closed).toBe(false)
    drains.forgetWorker(3)
    await remote.closed
    expect(remote.running()).toBe(0)
  })

  it('is closed at once without workers', async () => {
    const { facts, primary } = setup()
    const drains = new RemoteDrains({ ids: () => [], send: () => {} }, facts)
    const remote = drains.detach(primary(B1))
    await remote.closed
    expect(remote.running()).toBe(0)
  })
})
