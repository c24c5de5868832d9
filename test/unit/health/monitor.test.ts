import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import type { ProbeResult, ProbeTarget } from '../../../src/health/active.js'
import { HealthMonitor } from '../../../src/health/monitor.js'
import type { ZddEvent } from '../../../src/support/events.js'
import type { FailureKind } from '../../../src/upstream/outcomes.js'
import { parseConfig } from '../../../src/validation/config.js'

const logger = pino({ level: 'silent' })
const A1 = '127.0.0.1:9001'
const A2 = '127.0.0.1:9002'
const B1 = '127.0.0.1:9003'

/**
 * A real control plane with static groups a (A1, A2) and b (B1), a monitor whose probes answer
 * from a script (200 unless set per instance and path), and a fake clock. `fail` and `fivexx`
 * report outcomes as a data plane does: with the streak it counts, which it clears when an
 * instance enters or leaves rotation.
 */
function setup(
  service: Record<string, unknown> = {},
  groups: Record<string, string[]> = { a: [A1, A2], b: [B1] },
  { afterStartUp = false } = {},
) {
  const config = parseConfig(
    { services: [{ name: 'svc', groups: Object.entries(groups).map(([name, instances]) => ({ name, instances })), ...service }] },
    {},
    'test.json',
  )
  const plane = new ControlPlane(config, logger)
  const script = new Map<string, ProbeResult>()
  const probes: ProbeTarget[] = []
  const monitor = new HealthMonitor(config.services, { instances: plane, verdicts: plane, events: plane.events }, logger, {
    now: () => Date.now(),
    probe: async (target) => {
      probes.push(target)
      return script.get(`${target.host}:${target.port}${target.path}`) ?? { kind: 'status', status: 200 }
    },
  })
  const events: ZddEvent[] = []
  plane.events.subscribe((event) => {
    if (event.eventType === 'health_changed') events.push(event)
  })
  const streaks = new Map<number, number>()
  let liveIds = new Set<number>()
  plane.onSpec((spec) => {
    const now = new Set(spec.services.flatMap((each) => each.groups.flatMap((group) => group.live.map((instance) => instance.id))))
    for (const id of new Set([...now, ...liveIds])) if (now.has(id) !== liveIds.has(id)) streaks.delete(id)
    liveIds = now
  })
  monitor.start()
  // Instances found after start-up are new tasks (delaySeconds applies); before, of unknown age.
  if (afterStartUp) monitor.markStarted()
  for (const [name, instances] of Object.entries(groups)) plane.setInstances('svc', name, instances.map(parseAddress))
  const instance = (address: string) => [...plane.knownInstances()].find((known) => known.address === address)!
  const state = (address: string) => plane.healthOf(instance(address))
  const live = (group: string) => plane.snapshot.current.servicesByName.get('svc')!.groupsByName.get(group)!.instances.map((known) => known.address)
  const changes = (address: string) => events.filter((event) => event.instance === address).map((event) => `${event.from}>${event.to}`)
  const fail = (address: string, kind: FailureKind = 'connect') => {
    const id = instance(address).id
    const inARow = (streaks.get(id) ?? 0) + 1
    streaks.set(id, inARow)
    monitor.attemptFailed(id, kind, inARow)
  }
  return { plane, monitor, script, probes, events, instance, state, live, changes, fail, streaks }
}

const check = { path: '/health', intervalSeconds: 1, timeoutSeconds: 1, gracePeriodSeconds: 0, maxConsecutiveFailures: 2, delaySeconds: 0 }
const fast = { baseEjectionSeconds: 2, maxEjectionSeconds: 10 }

describe('HealthMonitor', () => {
  let monitor: HealthMonitor | undefined

  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }))
  afterEach(() => {
    monitor?.stop()
    vi.useRealTimers()
  })

  it('without checks, instances are live at once and announced healthy', async () => {
    const t = setup()
    monitor = t.monitor
    expect(t.live('a')).toEqual([A1, A2])
    await vi.advanceTimersByTimeAsync(0)
    expect(t.changes(A1)).toEqual(['starting>healthy'])
    expect(t.events[0]).toMatchObject({ service: 'svc', group: 'a', instance: A1, reason: 'no health or readiness checks configured' })
    expect([t.state(A1), t.state(A2), t.state(B1)]).toEqual(['healthy', 'healthy', 'healthy'])
  })

  it('with health checks, only instances that passed get traffic; unhealthy after maxConsecutiveFailures; back on a pass', async () => {
    const t = setup({ healthChecks: [check] })
    monitor = t.monitor
    t.script.set(`${A2}/health`, { kind: 'status', status: 503 })
    expect(t.live('a')).toEqual([])
    await vi.advanceTimersByTimeAsync(0)
    expect(t.live('a')).toEqual([A1])
    expect(t.state(A2)).toBe('starting')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.state(A2)).toBe('unhealthy')
    t.script.delete(`${A2}/health`)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.live('a')).toEqual([A1, A2])
    expect(t.changes(A2)).toEqual(['starting>unhealthy', 'unhealthy>healthy'])
    expect(t.events.find((event) => event.to === 'unhealthy')?.reason).toBe('health check failed 2 times in a row (status 503)')
  })

  it('checks instances found while the proxy starts at once, whatever delaySeconds says', async () => {
    const t = setup({ healthChecks: [{ ...check, delaySeconds: 3 }] })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(10)
    expect(t.probes).toHaveLength(3)
    expect(t.live('a')).toEqual([A1, A2])
  })

  it('firstVerdicts resolves once every instance answered its first checks, or at its limit naming the others', async () => {
    const t = setup({ healthChecks: [check] })
    monitor = t.monitor
    let settled: readonly string[] | undefined
    void t.monitor.firstVerdicts(5_000).then((left) => (settled = left))
    expect(settled).toBeUndefined()
    await vi.advanceTimersByTimeAsync(0)
    expect(settled).toEqual([])
    expect(t.live('a')).toEqual([A1, A2])

    // Readiness that never passes: the wait ends at its limit and names the instance.
    const stuck = setup({ readinessChecks: [{ path: '/ready', intervalSeconds: 1, timeoutSeconds: 1 }] }, { a: [A1] })
    stuck.script.set(`${A1}/ready`, { kind: 'status', status: 503 })
    let left: readonly string[] | undefined
    void stuck.monitor.firstVerdicts(3_000).then((names) => (left = names))
    await vi.advanceTimersByTimeAsync(2_999)
    expect(left).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(left).toEqual([A1])
    stuck.monitor.stop()
  })

  it('waits delaySeconds before the first check of an instance found after start-up', async () => {
    const t = setup({ healthChecks: [{ ...check, delaySeconds: 3 }] }, undefined, { afterStartUp: true })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(2_900)
    expect(t.probes).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(100)
    expect(t.live('a')).toEqual([A1, A2])
  })

  it('readiness gates a new instance until it answers a ready status, then is no longer checked', async () => {
    const t = setup({ readinessChecks: [{ path: '/ready', intervalSeconds: 1, httpStatusCodesForReady: [200] }] })
    monitor = t.monitor
    t.script.set(`${A1}/ready`, { kind: 'status', status: 503 })
    await vi.advanceTimersByTimeAsync(3_000)
    expect(t.live('a')).toEqual([A2])
    expect(t.state(A1)).toBe('starting')
    // Not ready yet: asked again every intervalSeconds.
    expect(t.probes.filter((target) => target.port === 9001).length).toBeGreaterThanOrEqual(3)
    t.script.delete(`${A1}/ready`)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.live('a')).toEqual([A1, A2])
    expect(t.events.find((event) => event.instance === A1)?.reason).toBe('readiness check readinessCheck passed (status 200)')
    const readinessProbes = t.probes.filter((target) => target.port === 9002).length
    await vi.advanceTimersByTimeAsync(5_000)
    expect(t.probes.filter((target) => target.port === 9002)).toHaveLength(readinessProbes)
    expect(readinessProbes).toBe(1)
  })

  it('readiness, then the first health check: starting → ready → healthy', async () => {
    const t = setup({ readinessChecks: [{ path: '/ready', intervalSeconds: 1 }], healthChecks: [{ ...check, delaySeconds: 2 }] })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(2_000)
    expect(t.changes(A1)).toEqual(['starting>ready', 'ready>healthy'])
  })

  it('ejects at once on a connect failure, honours the panic guard, and returns after the ejection time', async () => {
    const t = setup({ outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.fail(A1)
    expect(t.live('a')).toEqual([A2])
    expect(t.events.at(-1)).toMatchObject({ instance: A1, from: 'healthy', to: 'ejected', reason: '1 failed attempt in a row (last: connect); ejected for 2 s' })
    // A2 times out: the panic guard keeps the group's last healthy instance in.
    t.fail(A2, 'timeout')
    expect(t.live('a')).toEqual([A2])
    await vi.advanceTimersByTimeAsync(2_250)
    expect(t.live('a')).toEqual([A1, A2])
    // Back in rotation with a fresh streak: one failure is one in a row.
    t.fail(A1, 'timeout')
    expect(t.events.at(-1)?.reason).toBe('1 failed attempt in a row (last: timeout); ejected for 4 s')
    t.fail(A2, 'other')
    expect(t.state(A2)).toBe('healthy')
  })

  it('lets an instance that refuses connections go while another can serve, whatever the guard says', async () => {
    const t = setup({ outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.fail(A1, 'timeout')
    t.fail(A2)
    // Group a is empty now; group b takes its share (with redispatch, its clients too).
    expect(t.live('a')).toEqual([])
    expect(t.events.at(-1)).toMatchObject({ instance: A2, to: 'ejected', reason: '1 failed attempt in a row (last: connect); ejected for 2 s' })
    // The service's last healthy instance stays, refusing or not: nothing else could serve.
    t.fail(B1)
    expect(t.live('b')).toEqual([B1])
  })

  it("ejects a group's only instance only while other groups take its share", async () => {
    const t = setup({ outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.fail(B1)
    expect(t.live('b')).toEqual([])
    const single = setup({ outlierDetection: fast }, { only: [A1] })
    single.fail(A1)
    expect(single.live('only')).toEqual([A1])
    single.monitor.stop()
  })

  it('ejects on a 5xx streak', async () => {
    const t = setup({ outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.monitor.answered5xx(t.instance(A1).id, 4)
    expect(t.state(A1)).toBe('healthy')
    t.monitor.answered5xx(t.instance(A1).id, 5)
    expect(t.events.at(-1)).toMatchObject({ instance: A1, to: 'ejected', reason: '5 5xx responses in a row; ejected for 2 s' })
    expect(t.live('a')).toEqual([A2])
  })

  it('an ejected instance whose health check passes is back at once (unejectOnPassingCheck, the default)', async () => {
    const t = setup({ healthChecks: [check], outlierDetection: { ...fast, baseEjectionSeconds: 30 } })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.fail(A1, 'timeout')
    expect(t.state(A1)).toBe('ejected')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.changes(A1)).toEqual(['starting>healthy', 'healthy>ejected', 'ejected>healthy'])
    expect(t.live('a')).toEqual([A1, A2])
  })

  it('with unejectOnPassingCheck off, an ejection runs its time despite passing checks', async () => {
    const t = setup({ healthChecks: [check], outlierDetection: { ...fast, baseEjectionSeconds: 30, unejectOnPassingCheck: false } })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.fail(A1, 'timeout')
    await vi.advanceTimersByTimeAsync(29_000)
    expect(t.state(A1)).toBe('ejected')
    await vi.advanceTimersByTimeAsync(2_000)
    expect(t.state(A1)).toBe('healthy')
  })

  it('with active checks, an ejected instance returns only after a check passes', async () => {
    const t = setup({ healthChecks: [check], outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    t.script.set(`${A1}/health`, { kind: 'error', reason: 'no response within 1000 ms' })
    t.fail(A1, 'timeout')
    await vi.advanceTimersByTimeAsync(5_000)
    expect(t.state(A1)).toBe('ejected')
    t.script.delete(`${A1}/health`)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.changes(A1)).toEqual(['starting>healthy', 'healthy>ejected', 'ejected>healthy'])
  })

  it('drains instances that left discovery and stops checking them', async () => {
    const t = setup({ healthChecks: [check] })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    const kept = t.instance(B1)
    t.plane.setInstances('svc', 'a', [parseAddress(A1)])
    await vi.advanceTimersByTimeAsync(0)
    expect(t.events.at(-1)).toMatchObject({ instance: A2, from: 'healthy', to: 'draining', reason: 'removed from discovery' })
    const probesBefore = t.probes.filter((target) => target.port === 9002).length
    await vi.advanceTimersByTimeAsync(3_000)
    expect(t.probes.filter((target) => target.port === 9002)).toHaveLength(probesBefore)
    expect(t.plane.healthOf(kept)).toBe('healthy')
    expect(t.live('a')).toEqual([A1])
  })

  it('hands on the ejections it counts with each verdict (status shows them)', async () => {
    const t = setup({ outlierDetection: fast })
    monitor = t.monitor
    await vi.advanceTimersByTimeAsync(0)
    expect(t.plane.ejectionsOf(t.instance(A1))).toBe(0)
    t.fail(A1)
    expect(t.plane.ejectionsOf(t.instance(A1))).toBe(1)
    await vi.advanceTimersByTimeAsync(2_250)
    expect(t.state(A1)).toBe('healthy')
    t.fail(A1, 'timeout')
    expect(t.plane.ejectionsOf(t.instance(A1))).toBe(2)
    expect(t.plane.ejectionsOf(t.instance(A2))).toBe(0)
  })

  it('names states for status and metrics, and stops checking on stop()', async () => {
    const t = setup({ healthChecks: [check] })
    monitor = t.monitor
    expect(t.state(A1)).toBe('starting')
    await vi.advanceTimersByTimeAsync(0)
    expect(t.state(A1)).toBe('healthy')
    t.monitor.stop()
    const count = t.probes.length
    await vi.advanceTimersByTimeAsync(5_000)
    expect(t.probes).toHaveLength(count)
  })
})
