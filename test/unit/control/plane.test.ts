import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import { HealthMonitor } from '../../../src/health/monitor.js'
import type { SnapshotSpec } from '../../../src/routing/spec.js'
import { parseConfig } from '../../../src/validation/config.js'

const logger = pino({ level: 'silent' })
const LIVE = { health: 'healthy', live: true, weight: 1 }
const DOWN = { health: 'unhealthy', live: false, weight: 1 }

/** `count` loopback instances from port 10 000 on. */
const addresses = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `127.0.0.1:${10_000 + from + i}`)

/**
 * A plane with groups a and b (static, not yet discovered: the tests report instances themselves)
 * that keeps the specs it publishes.
 */
function setup(a = addresses(1), b = addresses(1, 1)) {
  const config = parseConfig(
    { services: [{ name: 'svc', groups: [{ name: 'a', instances: a }, { name: 'b', instances: b }], weights: { a: 1, b: 1 } }] },
    {},
    'test.json',
  )
  const plane = new ControlPlane(config, logger)
  const specs: SnapshotSpec[] = []
  plane.onSpec((spec) => specs.push(spec))
  const group = (name: string) => plane.snapshot.current.servicesByName.get('svc')!.groupsByName.get(name)!
  const live = (name: string) => group(name).instances.length
  const judge = (name: string, verdict: typeof LIVE) => {
    for (const instance of plane.instancesOf('svc', name)) plane.setVerdict(instance.id, verdict)
  }
  return { plane, specs, group, live, judge }
}

const nextTask = () => new Promise((resolve) => setImmediate(resolve))

describe('ControlPlane', () => {
  const cleanups: (() => void)[] = []
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup()
  })

  it('builds one snapshot for every publish() of one event-loop turn', async () => {
    const t = setup(addresses(3), addresses(1, 3))
    t.plane.setInstances('svc', 'a', addresses(3).map(parseAddress))
    t.judge('a', LIVE)
    await nextTask()
    const before = t.specs.length
    const revision = t.plane.snapshot.current.revision
    // As probe answers or ramp timers do: each transition in its own task (microtasks run between).
    await Promise.all(
      t.plane.instancesOf('svc', 'a').map(
        (instance) =>
          new Promise<void>((resolve) =>
            setImmediate(() => {
              t.plane.setVerdict(instance.id, DOWN)
              resolve()
            }),
          ),
      ),
    )
    await nextTask()
    expect(t.specs.length - before).toBe(1)
    expect(t.plane.snapshot.current.revision).toBe(revision + 1)
    expect(t.live('a')).toBe(0)
  })

  it('a read right after a change sees it: the pending rebuild runs first, and only once', async () => {
    const t = setup(addresses(2), addresses(1, 2))
    t.plane.setInstances('svc', 'a', addresses(2).map(parseAddress))
    t.judge('a', LIVE)
    expect(t.live('a')).toBe(2)
    await nextTask()
    const before = t.specs.length
    t.plane.setWeights('svc', { a: 0, b: 1 })
    expect(t.group('a').share).toBe(0)
    expect(t.specs.length - before).toBe(1)
    await nextTask()
    expect(t.specs.length - before).toBe(1)
  })

  it('keeps an instance id while discovery keeps the instance; one that left and returns is new', () => {
    const t = setup()
    t.plane.setInstances('svc', 'a', addresses(2).map(parseAddress))
    const [first, second] = t.plane.instancesOf('svc', 'a')
    t.plane.setInstances('svc', 'a', addresses(2).reverse().map(parseAddress))
    expect(t.plane.instancesOf('svc', 'a').map((instance) => instance.id)).toEqual([second!.id, first!.id])
    t.plane.setInstances('svc', 'a', addresses(1).map(parseAddress))
    t.plane.setInstances('svc', 'a', addresses(2).map(parseAddress))
    const back = t.plane.instancesOf('svc', 'a')[1]!
    expect(back.address).toBe(second!.address)
    expect(back.id).not.toBe(second!.id)
  })

  it('publishes live instances by slow-start weight and the others as standby, in every spec', () => {
    const t = setup()
    t.plane.setInstances('svc', 'a', addresses(3).map(parseAddress))
    const [old, ramping, down] = t.plane.instancesOf('svc', 'a')
    t.plane.setVerdict(old!.id, LIVE)
    t.plane.setVerdict(ramping!.id, { health: 'healthy', live: true, weight: 0.2 })
    t.plane.setVerdict(down!.id, DOWN)
    const group = t.plane.spec.services[0]!.groups[0]!
    expect(group.live.map((instance) => instance.address).sort()).toEqual([...Array<string>(10).fill(old!.address), ...Array<string>(2).fill(ramping!.address)].sort())
    expect(group.standby.map((instance) => instance.address)).toEqual([down!.address])
    expect(t.plane.healthOf(down!)).toBe('unhealthy')
    // A cut-over counts each live instance once, however often slow start lists it.
    expect(new Set(t.group('a').instances).size).toBe(2)
  })

  it('ignores verdicts on instances it does not know (any more)', () => {
    const t = setup()
    t.plane.setInstances('svc', 'a', addresses(1).map(parseAddress))
    const gone = t.plane.instancesOf('svc', 'a')[0]!
    t.plane.setInstances('svc', 'a', [])
    t.plane.setVerdict(gone.id, LIVE)
    expect(t.plane.healthOf(gone)).toBe('starting')
    expect(t.live('a')).toBe(0)
  })

  it('starts 2 000 static instances with a few rebuilds, not one per health transition', async () => {
    const a = addresses(1000)
    const b = addresses(1000, 1000)
    const t = setup(a, b)
    const monitor = new HealthMonitor(t.plane.config.services, { instances: t.plane, verdicts: t.plane, events: t.plane.events }, logger)
    cleanups.push(() => monitor.stop())
    monitor.start()
    t.plane.setInstances('svc', 'a', a.map(parseAddress))
    t.plane.setInstances('svc', 'b', b.map(parseAddress))
    await nextTask()
    expect(t.plane.instancesOf('svc', 'a').every((instance) => t.plane.healthOf(instance) === 'healthy')).toBe(true)
    expect(t.live('a')).toBe(1000)
    expect(t.live('b')).toBe(1000)
    // Discovery's answers, then the health records' starting>healthy transitions: 2 000 of them.
    expect(t.specs.length).toBeLessThanOrEqual(3)
  })
})
