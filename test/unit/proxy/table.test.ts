import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlPlane } from '../../../src/control/plane.js'
import { parseAddress } from '../../../src/discovery/static.js'
import { tableFromSpec } from '../../../src/proxy/table.js'
import { InstancePools } from '../../../src/upstream/pools.js'
import { parseConfig } from '../../../src/validation/config.js'

const A1 = '127.0.0.1:9001'
const A2 = '127.0.0.1:9002'
const B1 = '127.0.0.1:9003'

describe("a data plane's table from a spec", () => {
  const pools: InstancePools[] = []
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((each) => each.closeAll(0)))
  })

  it('routes like the control plane (weights, shares, live instances in order) and keeps pools of instances that are not live', () => {
    const config = parseConfig(
      { services: [{ name: 'svc', groups: [{ name: 'a', instances: [A1, A2] }, { name: 'b', instances: [B1] }], weights: { a: 1, b: 1 } }] },
      {},
      'test.json',
    )
    const plane = new ControlPlane(config, pino({ level: 'silent' }))
    plane.setInstances('svc', 'a', [parseAddress(A1), parseAddress(A2)])
    plane.setInstances('svc', 'b', [parseAddress(B1)])
    for (const instance of plane.knownInstances()) {
      plane.setVerdict(instance.id, { health: instance.address === A2 ? 'ejected' : 'healthy', live: instance.address !== A2, weight: 1 })
    }
    plane.setWeights('svc', { a: 3, b: 1 })
    const spec = plane.spec
    expect(JSON.parse(JSON.stringify(spec.services[0]!.groups[0]))).toMatchObject({
      name: 'a',
      weight: 3,
      live: [{ address: A1, host: '127.0.0.1', port: 9001 }],
      standby: [{ address: A2, host: '127.0.0.1', port: 9002 }],
    })
    const own = new InstancePools(config.services)
    pools.push(own)
    const built = tableFromSpec(config.services, spec, own)
    const shape = (table: { services: readonly { groups: readonly { name: string; weight: number; share: number; instances: readonly { address: string }[] }[] }[] }) =>
      table.services.map((service) => service.groups.map((group) => [group.name, group.weight, group.share, group.instances.map((i) => i.address)]))
    expect(built.table.revision).toBe(spec.revision)
    expect(shape(built.table)).toEqual(shape(plane.snapshot.current))
    expect([...built.inUse].map((instance) => instance.address).sort()).toEqual([A1, A2, B1])
    expect([...built.live].map((instance) => instance.address).sort()).toEqual([A1, B1])
    // The same instance is the same object in the next table: its pool and load stay.
    const again = tableFromSpec(config.services, spec, own)
    expect([...again.inUse].every((instance) => built.inUse.has(instance))).toBe(true)
  })
})
