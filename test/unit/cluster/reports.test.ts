import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { ToWorker } from '../../../src/cluster/messages.js'
import { WorkerFacts } from '../../../src/cluster/primary/facts.js'
import { RemoteDrains } from '../../../src/cluster/primary/remote-drains.js'
import { ReportBuilder } from '../../../src/cluster/worker/reports.js'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import { DataPlane } from '../../../src/proxy/data-plane.js'
import type { FailureKind, OutcomeSink } from '../../../src/upstream/outcomes.js'
import { parseConfig } from '../../../src/validation/config.js'
import { hashString } from '../../../src/routing/rendezvous.js'
import { estimateSketch } from '../../../src/upstream/client-sketch.js'

const logger = pino({ level: 'silent' })
const A1 = '127.0.0.1:9001'
const A2 = '127.0.0.1:9002'
const B1 = '127.0.0.1:9003'
const LIVE = { health: 'healthy', live: true, weight: 1 }
const DOWN = { health: 'ejected', live: false, weight: 1 }
const NOWHERE: OutcomeSink = { attemptFailed: () => {}, answered5xx: () => {} }

/**
 * A primary (control plane and WorkerFacts, whose outcomes a recorder stands in health's place for)
 * and simulated workers: each a real DataPlane (no listeners) fed the primary's specs, with its
 * ReportBuilder.
 */
function setup(stops: (() => Promise<void>)[]) {
  const config = parseConfig(
    { services: [{ name: 'svc', groups: [{ name: 'a', instances: [A1, A2] }, { name: 'b', instances: [B1] }], weights: { a: 1, b: 1 } }] },
    {},
    'test.json',
  )
  const plane = new ControlPlane(config, logger)
  plane.setInstances('svc', 'a', [parseAddress(A1), parseAddress(A2)])
  plane.setInstances('svc', 'b', [parseAddress(B1)])
  for (const instance of plane.knownInstances()) plane.setVerdict(instance.id, LIVE)
  const heard: [string, string, number][] = []
  const idOf = (address: string) => [...plane.knownInstances()].find((known) => known.address === address)!.id
  const addressOf = (id: number) => [...plane.knownInstances()].find((known) => known.id === id)?.address ?? `#${id}`
  const facts = new WorkerFacts(config, {
    attemptFailed: (id, kind: FailureKind, inARow) => heard.push([addressOf(id), kind, inARow]),
    answered5xx: (id, inARow) => heard.push([addressOf(id), '5xx', inARow]),
  })
  facts.onSpec(plane.spec)
  const workers: DataPlane[] = []
  plane.onSpec((spec) => {
    facts.onSpec(spec)
    for (const dataPlane of workers) dataPlane.apply(spec)
  })
  const worker = () => {
    const dataPlane = new DataPlane(config, { outcomes: NOWHERE, logger })
    stops.push(() => dataPlane.stop(0))
    dataPlane.apply(plane.spec)
    workers.push(dataPlane)
    const reports = new ReportBuilder(dataPlane)
    const find = (address: string) => [...dataPlane.instances()].find((instance) => instance.address === address)!
    return { dataPlane, stats: dataPlane.stats, reports, find }
  }
  return { plane, facts, worker, idOf, heard }
}

describe('worker reports applied in the primary', () => {
  const stops: (() => Promise<void>)[] = []
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()))
  })

  it('sums load and hands health the longest streak; an unchanged worker sends nothing', () => {
    const { facts, worker, idOf, heard } = setup(stops)
    const one = worker()
    const two = worker()
    Object.assign(one.find(A1), { inflight: 2, failuresInARow: 3 })
    Object.assign(two.find(A1), { inflight: 1, failuresInARow: 1, fivexxInARow: 4 })
    facts.apply(1, one.reports.build()!)
    facts.apply(2, two.reports.build()!)
    expect(facts.inflightOf(idOf(A1))).toBe(3)
    expect(facts.inflightOf(idOf(A2))).toBe(0)
    expect(heard).toEqual([[A1, '5xx', 4]])

    expect(one.reports.build()).toBeUndefined()
    one.find(A1).inflight = 0
    const report = one.reports.build()!
    expect(report.instances).toEqual([{ instance: idOf(A1), inflight: 0, failuresInARow: 3, fivexxInARow: 0 }])
    facts.apply(1, report)
    expect(facts.inflightOf(idOf(A1))).toBe(1)

    // A worker that exits no longer adds load.
    facts.forgetWorker(2)
    expect(facts.inflightOf(idOf(A1))).toBe(0)
  })

  it("adds each group's status, duration, error and retry deltas to the primary's stats", () => {
    const { facts, worker } = setup(stops)
    const one = worker()
    const a = one.stats.forService('svc').get('a')!
    for (const status of [200, 200, 503]) a.recordStatus(status)
    a.recordDuration(0.002)
    a.recordDuration(3)
    a.upstreamErrors.reset++
    a.retries++
    a.recordRedispatch('b', 2)
    facts.apply(1, one.reports.build()!)
    a.recordStatus(200)
    a.recordDuration(0.002)
    facts.apply(1, one.reports.build()!)
    const seen = facts.stats.forService('svc').get('a')!
    expect(seen.responsesByStatus[200]).toBe(3)
    expect(seen.responsesByStatus[503]).toBe(1)
    expect([...seen.durationCounts]).toEqual([...a.durationCounts])
    expect(seen.durationSum).toBeCloseTo(3.004)
    expect(seen.durationCount).toBe(3)
    expect(seen.upstreamErrors.reset).toBe(1)
    expect(seen.retries).toBe(1)
    expect(seen.redispatchedTo).toEqual(new Map([['b', 2]]))
    expect(facts.stats.forService('svc').get('b')!.durationCount).toBe(0)
  })

  it("merges the workers' distinct-client sketches in the primary; each worker starts a new one per report", () => {
    const { facts, worker } = setup(stops)
    const one = worker()
    const two = worker()
    const count = (stats: typeof one.stats, from: number, to: number) => {
      const group = stats.forService('svc').get('a')!
      for (let i = from; i < to; i++) {
        group.recordStatus(200)
        group.recordClient(hashString(`c${i}`))
      }
    }
    count(one.stats, 0, 300)
    count(two.stats, 200, 500)
    const first = one.reports.build()!
    expect(first.groups[0]!.clients).toEqual(expect.any(String))
    expect(estimateSketch(one.stats.forService('svc').get('a')!.clients)).toBe(0)
    facts.apply(1, first)
    facts.apply(2, two.reports.build()!)
    // 500 distinct clients (200 seen by both workers); linear counting at this size is within a few.
    expect(Math.abs(estimateSketch(facts.stats.forService('svc').get('a')!.clients) - 500)).toBeLessThan(25)
    expect(one.reports.build()).toBeUndefined()
  })

  it("clears stale streaks when an instance leaves and re-enters rotation, in the workers and in the primary", () => {
    const { plane, facts, worker, idOf, heard } = setup(stops)
    const one = worker()
    const two = worker()
    Object.assign(one.find(A1), { fivexxInARow: 5 })
    facts.apply(1, one.reports.build()!)
    expect(heard.at(-1)).toEqual([A1, '5xx', 5])
    // Ejected, then live again.
    plane.setVerdict(idOf(A1), DOWN)
    void plane.spec
    expect(one.find(A1).fivexxInARow).toBe(0)
    plane.setVerdict(idOf(A1), LIVE)
    void plane.spec
    Object.assign(two.find(A1), { inflight: 1, fivexxInARow: 1 })
    facts.apply(2, two.reports.build()!)
    // Worker one's old 5 must not come back as the longest streak.
    expect(heard.at(-1)).toEqual([A1, '5xx', 1])
  })

  it('hands a failed attempt to health at once, with the longest streak any worker saw', () => {
    const { facts, idOf, heard } = setup(stops)
    facts.applyFailure(1, { type: 'failure', instance: idOf(B1), kind: 'connect', inARow: 2 })
    facts.applyFailure(2, { type: 'failure', instance: idOf(B1), kind: 'timeout', inARow: 1 })
    expect(heard).toEqual([
      [B1, 'connect', 2],
      [B1, 'timeout', 2],
    ])
  })

  it('forgets an instance the spec no longer names, in the worker reports and in the primary', () => {
    const { plane, facts, worker, idOf } = setup(stops)
    const one = worker()
    const a2 = idOf(A2)
    one.find(A2).inflight = 1
    facts.apply(1, one.reports.build()!)
    expect(facts.inflightOf(a2)).toBe(1)
    const draining = one.find(A2)
    plane.setInstances('svc', 'a', [parseAddress(A1)])
    void plane.spec
    expect(draining.draining).toBe(true)
    expect(facts.inflightOf(a2)).toBe(0)
    draining.inflight = 0
    expect(one.reports.build()).toBeUndefined()
  })
})

describe('RemoteDrains', () => {
  const stops: (() => Promise<void>)[] = []
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()))
  })

  it('counts what workers still run on their detached pools and settles when every one is closed or gone', async () => {
    const { facts, worker, idOf } = setup(stops)
    const one = worker()
    one.find(A1).inflight = 2
    facts.apply(1, one.reports.build()!)
    const sent: [number, ToWorker][] = []
    const drains = new RemoteDrains({ ids: () => [1, 2, 3], send: (id, message) => sent.push([id, message]) }, facts)
    const remote = drains.detach(idOf(A1))
    expect(sent.map(([id, message]) => [id, message])).toEqual([
      [1, { type: 'detach', id: 1, instance: idOf(A1) }],
      [2, { type: 'detach', id: 1, instance: idOf(A1) }],
      [3, { type: 'detach', id: 1, instance: idOf(A1) }],
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
    const { facts, idOf } = setup(stops)
    const drains = new RemoteDrains({ ids: () => [], send: () => {} }, facts)
    const remote = drains.detach(idOf(B1))
    await remote.closed
    expect(remote.running()).toBe(0)
  })

  it("a worker's detach of an instance it has no pool for reports closed at once", async () => {
    const { worker } = setup(stops)
    const one = worker()
    one.reports.trackDetached(7, one.dataPlane.detach(99_999))
    await Promise.resolve()
    expect(one.reports.build()?.detached).toEqual([{ id: 7, running: 0, closed: true }])
  })

  it('a group a reload added is reported from its first request; a group that stays keeps counting', () => {
    const { facts, worker } = setup(stops)
    const one = worker()
    one.stats.forService('svc').get('a')!.recordStatus(200)
    facts.apply(1, one.reports.build()!)
    const next = parseConfig(
      { services: [{ name: 'svc', groups: [{ name: 'a', instances: [A1] }, { name: 'c', instances: [B1] }], weights: { a: 1, c: 1 } }] },
      {},
      'test.json',
    )
    facts.stats.reconfigure(next)
    one.dataPlane.reconfigure(next, { services: [], summaries: [] })
    one.stats.forService('svc').get('a')!.recordStatus(200)
    one.stats.forService('svc').get('c')!.recordStatus(503)
    facts.apply(1, one.reports.build()!)
    const totals = [...facts.stats.all()].map((group) => [group.group, group.responsesByStatus[200], group.responsesByStatus[503]])
    expect(totals).toEqual([
      ['a', 2, 0],
      ['c', 0, 1],
    ])
  })
})
