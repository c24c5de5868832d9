import { describe, expect, it } from 'vitest'
import { ClusterDrains } from '../../../src/control/cluster-drains.js'
import type { DrainStatus } from '../../../src/control/drain.js'
import type { DrainRecord, ReplicaRecord, SharedStore } from '../../../src/state/shared.js'
import { EventBus, type ZddEvent } from '../../../src/support/events.js'
import { createLogger } from '../../../src/support/log.js'

/** The part of a shared store ClusterDrains reads: who is live and what each reported. */
function fleet(self: string, live: string[]) {
  const records: DrainRecord[] = []
  const store = {
    replicaId: self,
    replicas: (): ReplicaRecord[] => live.map((id) => ({ id, appliedRevision: 1, lastSeen: '', startedAt: '' })),
    drains: (service: string) => records.filter((record) => record.service === service),
    reportDrain: () => {},
  } as unknown as SharedStore
  const report = (replica: string, phase: string, inflight: number, counts?: Record<string, number>) => {
    const index = records.findIndex((record) => record.replica === replica)
    if (index >= 0) records.splice(index, 1)
    records.push({ replica, service: 'web', revision: 7, phase, inflight, ...(counts === undefined ? {} : { counts }) })
  }
  return { store, report, live }
}

const logger = createLogger('test')
logger.level = 'silent'

const drain = (phase: DrainStatus['phase'], inflight: number, counts?: DrainStatus['counts']): DrainStatus => ({
  service: 'web',
  to: 'b',
  from: ['a'],
  revision: 7,
  startedAt: new Date(Date.now() - 1000).toISOString(),
  drainSeconds: 30,
  phase,
  inflight,
  ...(counts === undefined ? {} : { counts }),
})
const done = (inflightAtStart: number, phase: 'drained' | 'deadline' | 'superseded' = 'drained') =>
  drain(phase, 0, { inflightAtStart, completed: phase === 'drained' ? inflightAtStart : 0, cut: phase === 'deadline' ? inflightAtStart : 0, remaining: phase === 'superseded' ? inflightAtStart : 0 })

describe('ClusterDrains: a cut-over is drained when every live replica is', () => {
  it('waits for a replica still draining or not yet reporting, then announces once with the sums', () => {
    const { store, report, live } = fleet('r1', ['r1', 'r2', 'r3'])
    const events = new EventBus()
    const seen: ZddEvent[] = []
    events.subscribe((event) => seen.push(event))
    const drains = new ClusterDrains(store, events, logger)
    drains.report(done(2))
    expect(drains.combine(done(2))).toMatchObject({ phase: 'draining', replicas: [{ replica: 'r1', phase: 'drained' }, { replica: 'r2', phase: 'pending' }, { replica: 'r3', phase: 'pending' }] })
    report('r2', 'draining', 4)
    report('r3', 'drained', 0, { inflightAtStart: 0, completed: 0, cut: 0, remaining: 0 })
    drains.check()
    expect(drains.combine(done(2))).toMatchObject({ phase: 'draining', inflight: 4 })
    expect(seen).toEqual([])
    report('r2', 'drained', 0, { inflightAtStart: 4, completed: 4, cut: 0, remaining: 0 })
    drains.check()
    drains.check()
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ eventType: 'cutover_completed', outcome: 'drained', inflightAtStart: 6, completed: 6, cut: 0, replicas: 3 })
    expect(live).toHaveLength(3)
  })

  it('does not wait for a replica that left (its lease ended), and reports the worst outcome', () => {
    const { store, report, live } = fleet('r1', ['r1', 'r2', 'r3'])
    const events = new EventBus()
    const seen: ZddEvent[] = []
    events.subscribe((event) => seen.push(event))
    const drains = new ClusterDrains(store, events, logger)
    report('r2', 'deadline', 0, { inflightAtStart: 1, completed: 0, cut: 1, remaining: 0 })
    drains.report(done(0))
    expect(seen).toEqual([])
    live.splice(live.indexOf('r3'), 1)
    drains.check()
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ outcome: 'deadline', cut: 1, replicas: 2 })
  })

  it('ignores reports of another cut-over of the service', () => {
    const { store, report } = fleet('r1', ['r1', 'r2'])
    const drains = new ClusterDrains(store, new EventBus(), logger)
    report('r2', 'drained', 0, { inflightAtStart: 0, completed: 0, cut: 0, remaining: 0 })
    expect(drains.combine({ ...done(0), revision: 8 }).phase).toBe('draining')
  })
})
