/**
 * Replicas on a 3-member etcd cluster: a member killed and restarted while changes go on loses
 * no acknowledged change and applies none twice; a replica whose watched revisions were compacted
 * while it was cut off reloads and converges.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, startSimpleService } from './control-helpers.js'
import { compactEtcd, converged, eventually, putWeights, replicaConfig, revisionOf, startReplica, storedState, type Replica, type ServiceSpec } from './replica-helpers.js'

let etcd: EtcdCluster
let services: ServiceSpec[]
const replicas: Replica[] = []

beforeAll(async () => {
  etcd = await startEtcd(3)
  const [v09, v10] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  services = [{ name: 'web', groups: { '0.9': [v09!.address], '1.0': [v10!.address] }, weights: { '0.9': 80, '1.0': 20 } }]
}, 60_000)

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()))
  await stopAll()
  await etcd?.stop()
  removeTempFiles()
})

describe('replicas on a 3-member etcd cluster', () => {
  it('loses no acknowledged change and applies none twice while a member is killed and restarted', async () => {
    const [a, b] = await Promise.all([
      startReplica(replicaConfig(etcd.endpoints, 'a', services)),
      startReplica(replicaConfig(etcd.endpoints, 'b', services)),
    ])
    replicas.push(a!, b!)
    const acknowledged: string[] = []
    const refused: string[] = []
    // The leader, killed while a change is in flight.
    const victim = await etcd.leader()
    for (let i = 0; i < 60; i++) {
      const reason = `change-${i}`
      const writer = i % 2 === 0 ? a! : b!
      const pending = putWeights(writer, 'web', { '0.9': 100 - i, '1.0': i + 1 }, {}, reason)
      if (i === 15) await victim.kill()
      if (i === 40) await victim.start()
      const answer = await pending
      // While the cluster elects a new leader a write may time out; it is then refused, never half-done.
      if (answer.status === 200) acknowledged.push(reason)
      else {
        expect(answer.status, JSON.stringify(answer.json)).toBe(503)
        expect(answer.json.error.code).toBe('store_unavailable')
        refused.push(reason)
        await sleep(200)
      }
    }
    process.stdout.write(`etcd member killed and restarted under 60 changes: ${acknowledged.length} acknowledged, ${refused.length} refused (503)\n`)
    expect(acknowledged.length).toBeGreaterThanOrEqual(50)
    const stored = (await storedState(etcd.endpoints))!
    const reasons = stored.history.map((entry) => entry.reason)
    for (const reason of acknowledged) expect(reasons.filter((seen) => seen === reason), reason).toHaveLength(1)
    // A refused change whose write did reach etcd is in the history once at most.
    for (const reason of refused) expect(reasons.filter((seen) => seen === reason).length, reason).toBeLessThanOrEqual(1)
    const revisions = stored.history.map((entry) => entry.revision)
    expect([...revisions].sort((x, y) => x - y)).toEqual(revisions)
    expect(new Set(revisions).size).toBe(revisions.length)
    await converged([a!, b!], 'web', stored.revision)
    for (const replica of [a!, b!]) expect(await revisionOf(replica, 'web')).toBe(stored.revision)
  }, 120_000)

  it('a replica whose watched revisions were compacted while it was away reloads and converges', async () => {
    const writer = replicas[0]!
    // c talks to the third member only, so killing that member cuts c off while the others go on.
    const lonely = etcd.members[2]!
    const c = await startReplica(replicaConfig([lonely.endpoint], 'c', services))
    replicas.push(c)
    const start = await revisionOf(writer, 'web')
    await converged([c], 'web', start)
    await lonely.kill()
    await eventually('c cut off', async () => (await admin(c.adminUrl, 'GET', '/v1/cluster')).json.connected === false)
    let last = start
    for (let i = 0; i < 5; i++) {
      const answer = await putWeights(writer, 'web', { '0.9': 40 + i, '1.0': 60 - i })
      expect(answer.status, JSON.stringify(answer.json)).toBe(200)
      last = answer.json.revision
    }
    const compacted = await compactEtcd(etcd.members.slice(0, 2).map((member) => member.endpoint))
    expect(compacted).toBeGreaterThanOrEqual(last)
    expect(await revisionOf(c, 'web')).toBe(start)
    await lonely.start()
    await converged([c], 'web', last, 30_000)
    const views = await Promise.all([writer, c].map(async (replica) => (await admin(replica.adminUrl, 'GET', '/v1/services/web')).json))
    expect(views[1].weights).toEqual(views[0].weights)
    expect(views[1].revision).toBe(views[0].revision)
    expect(c.output()).toMatch(/"event":"store_connected"/)
  }, 90_000)
})
