import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/validation/config.js'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import { HealthMonitor } from '../../../src/health/monitor.js'
import { UpstreamRegistry, type Upstream } from '../../../src/upstream/pools.js'

const logger = pino({ level: 'silent' })

/** `count` loopback instances from port 10 000 on. */
const addresses = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `127.0.0.1:${10_000 + from + i}`)

/** A plane with groups a and b (static, not yet discovered) that counts its snapshot swaps. */
function setup(a: string[], b: string[]) {
  const config = parseConfig(
    { services: [{ name: 'svc', groups: [{ name: 'a', backends: a }, { name: 'b', backends: b }], weights: { a: 1, b: 1 } }] },
    {},
    'test.json',
  )
  const registry = new UpstreamRegistry(() => config.services[0]!.timeouts)
  const plane = new ControlPlane(config, registry, logger)
  let swaps = 0
  plane.snapshot.onSwap(() => swaps++)
  const live = (group: string) => plane.snapshot.current.servicesByName.get('svc')!.groupsByName.get(group)!.instances.length
  return { plane, registry, live, swaps: () => swaps }
}

const nextTask = () => new Promise((resolve) => setImmediate(resolve))

describe('ControlPlane snapshot rebuilds', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
  })

  it('builds one snapshot for every publish() of one event-loop turn', async () => {
    const t = setup(addresses(3), addresses(1, 3))
    cleanups.push(() => t.registry.closeAll(0))
    const down = new Set<Upstream>()
    t.plane.setLiveness((upstream) => !down.has(upstream))
    t.plane.setEndpoints('svc', 'a', addresses(3).map(parseAddress))
    await nextTask()
    const before = t.swaps()
    const revision = t.plane.snapshot.current.revision
    // As probe answers or ramp timers do: each transition in its own task (microtasks run between).
    const instances = t.plane.snapshot.current.servicesByName.get('svc')!.groupsByName.get('a')!.instances
    await Promise.all(
      instances.map(
        (upstream) =>
          new Promise<void>((resolve) =>
            setImmediate(() => {
              down.add(upstream)
              t.plane.publish()
              resolve()
            }),
          ),
      ),
    )
    await nextTask()
    expect(t.swaps() - before).toBe(1)
    expect(t.plane.snapshot.current.revision).toBe(revision + 1)
    expect(t.live('a')).toBe(0)
  })

  it('a read right after a change sees it: the pending rebuild runs first, and only once', async () => {
    const t = setup(addresses(2), addresses(1, 2))
    cleanups.push(() => t.registry.closeAll(0))
    t.plane.setEndpoints('svc', 'a', addresses(2).map(parseAddress))
    expect(t.live('a')).toBe(2)
    await nextTask()
    const before = t.swaps()
    t.plane.setWeights('svc', { a: 0, b: 1 })
    expect(t.plane.snapshot.current.servicesByName.get('svc')!.groupsByName.get('a')!.share).toBe(0)
    expect(t.swaps() - before).toBe(1)
    await nextTask()
    expect(t.swaps() - before).toBe(1)
  })

  it('starts 2 000 static instances with a few rebuilds, not one per health transition', async () => {
    const a = addresses(1000)
    const b = addresses(1000, 1000)
    const t = setup(a, b)
    const monitor = new HealthMonitor(t.plane, logger)
    cleanups.push(async () => {
      monitor.stop()
      await t.registry.closeAll(0)
    })
    monitor.start()
    t.plane.setEndpoints('svc', 'a', a.map(parseAddress))
    t.plane.setEndpoints('svc', 'b', b.map(parseAddress))
    await nextTask()
    expect(monitor.statesOf('svc', 'a').healthy).toBe(1000)
    expect(t.live('a')).toBe(1000)
    expect(t.live('b')).toBe(1000)
    // Discovery's answers, then the health records' starting>healthy transitions: 2 000 of them.
    expect(t.swaps()).toBeLessThanOrEqual(3)
  })
})
