import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DrainTracker } from '../../../src/control/drain.js'
import { EventBus, type ZddEvent } from '../../../src/support/events.js'
import type { ServiceConfig } from '../../../src/config/types.js'
import type { KnownInstance } from '../../../src/upstream/instance.js'
import { InstancePools } from '../../../src/upstream/pools.js'
import { startBackend, type TestBackend } from '../../helpers/backend.js'

const SERVICES = ['drained', 'deadline', 'superseded'].map(
  (name) =>
    ({
      name,
      drainSeconds: 30,
      timeouts: { connectMs: 1_000, headersMs: 10_000, idleMs: 10_000, queueMs: 1_000, sendMs: 10_000 },
      limits: { connectionsPerInstance: 16, queuePerInstance: 16, requestBufferBytes: 0 },
    }) as ServiceConfig,
)

describe('DrainTracker with real connection pools', () => {
  let backend: TestBackend
  // The data plane's pools, which the tracker drains through the control side's port.
  let pools: InstancePools

  beforeAll(async () => {
    backend = await startBackend('old')
    pools = new InstancePools(SERVICES)
  })

  afterAll(async () => {
    await pools.closeAll(0)
    await backend.close()
  })

  function setup(service: string) {
    const events = new EventBus()
    const seen: ZddEvent[] = []
    events.subscribe((event) => seen.push(event))
    const tracker = new DrainTracker(pools, events, pino({ level: 'silent' }))
    const known: KnownInstance = { id: SERVICES.findIndex((each) => each.name === service), service, group: 'blue', address: backend.address, host: '127.0.0.1', port: backend.port }
    const upstream = pools.acquire(service, known)
    const send = (ms: number) =>
      upstream.pool
        .request({ path: `/slow/${ms}`, method: 'GET' })
        .then(async (response) => {
          await response.body.text()
          return response.statusCode
        })
        .catch(() => 'cut')
    const started = (drainSeconds: number) => ({ service, to: 'green', from: ['blue'], revision: 7, startedAt: new Date().toISOString(), drainSeconds })
    return { tracker, upstream, known, send, seen, started }
  }

  const completed = (seen: ZddEvent[]) =>
    new Promise<ZddEvent>((resolve) => {
      const poll = setInterval(() => {
        const event = seen.find((candidate) => candidate.eventType === 'cutover_completed')
        if (event) {
          clearInterval(poll)
          resolve(event)
        }
      }, 10)
    })

  it('reports drained once the requests on the old pool finished; new requests use a fresh pool', async () => {
    const { tracker, upstream, known, send, seen, started } = setup('drained')
    // Requests count on the pool from the moment they are dispatched, queued or sent.
    const inflight = [send(300), send(300)]
    const oldPool = upstream.pool
    const status = tracker.start(started(30), [known])
    expect(status).toMatchObject({ phase: 'draining', inflight: 2 })
    expect(upstream.pool).not.toBe(oldPool)
    expect(await send(1)).toBe(200)
    const event = await completed(seen)
    expect(event).toMatchObject({ outcome: 'drained', inflightAtStart: 2, completed: 2, cut: 0, remaining: 0, revision: 7 })
    expect(await Promise.all(inflight)).toEqual([200, 200])
    expect(tracker.statusOf('drained')).toMatchObject({ phase: 'drained', counts: { completed: 2 } })
  })

  it('cuts what still runs at the deadline and counts it', async () => {
    const { tracker, known, send, seen, started } = setup('deadline')
    const quick = send(1)
    const stuck = send(10_000)
    tracker.start(started(1), [known])
    const event = await completed(seen)
    expect(event).toMatchObject({ outcome: 'deadline', inflightAtStart: 2, completed: 1, cut: 1 })
    expect(await quick).toBe(200)
    expect(await stuck).toBe('cut')
  })

  it('a later change supersedes the drain and cancels its deadline', async () => {
    const { tracker, known, send, seen, started } = setup('superseded')
    const running = send(600)
    tracker.start(started(0.2), [known])
    tracker.supersede('superseded')
    expect(seen.filter((event) => event.eventType === 'cutover_completed')).toHaveLength(1)
    expect(seen[0]).toMatchObject({ outcome: 'superseded', inflightAtStart: 1, remaining: 1, cut: 0 })
    // Past the cancelled deadline the request still completes.
    expect(await running).toBe(200)
  })
})
