/**
 * etcd killed under traffic: requests keep flowing on the last applied state, changes get 503
 * store_unavailable, readiness holds, zdd_store_up drops to 0; a replica restarted meanwhile serves
 * its cache; when etcd returns both catch up without a restart.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, startSimpleService } from './control-helpers.js'
import { converged, eventually, putWeights, replicaConfig, startReplica, type Replica, type ServiceSpec } from './replica-helpers.js'

const ZOD_PROBE = new URL('../fixtures/zod-probe.mjs', import.meta.url).href

let etcd: EtcdCluster
const replicas: Replica[] = []

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()))
  await stopAll()
  await etcd?.stop()
  removeTempFiles()
})

let services: ServiceSpec[]

beforeAll(async () => {
  etcd = await startEtcd(1)
  const [v09, v10] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  services = [{ name: 'web', groups: { '0.9': [v09!.address], '1.0': [v10!.address] }, weights: { '0.9': 80, '1.0': 20 } }]
}, 60_000)

describe('etcd down', () => {
  it('keeps traffic on the last state, refuses changes with 503, serves a restarted replica from its cache, and catches up', async () => {
    const configA = replicaConfig(etcd.endpoints, 'a', services)
    const configB = replicaConfig(etcd.endpoints, 'b', services)
    // a also records whether zod ever loaded where it serves requests (it must not: states are parsed off-thread).
    const probe = join(mkdtempSync(join(tmpdir(), 'zdd-probe-')), 'zod.json')
    const a = await startReplica(configA, [], undefined, { NODE_OPTIONS: `--import=${ZOD_PROBE}`, ZDD_ZOD_PROBE: probe })
    let b = await startReplica(configB)
    replicas.push(a, b)
    const before = await putWeights(a, 'web', { '0.9': 30, '1.0': 70 })
    expect(before.status).toBe(200)
    await converged([a, b], 'web', before.json.revision)

    const load = constantLoad({ url: `${a.url}/endpoint0`, rps: 300, durationMs: 10_000 })
    await sleep(1_000)
    const member = etcd.members[0]!
    await member.kill()
    try {
      await eventually('a sees etcd gone', async () => (await admin(a.adminUrl, 'GET', '/v1/cluster')).json.connected === false)
      const refused = await putWeights(a, 'web', { '0.9': 50, '1.0': 50 })
      expect(refused.status).toBe(503)
      expect(refused.json.error.code).toBe('store_unavailable')
      expect((await admin(a.adminUrl, 'GET', '/readyz')).status).toBe(200)
      expect((await admin(a.adminUrl, 'GET', '/metrics')).json).toMatch(/^zdd_store_up 0$/m)
      const view = (await admin(a.adminUrl, 'GET', '/v1/services/web')).json
      expect({ revision: view.revision, weights: view.weights }).toEqual({ revision: before.json.revision, weights: { '0.9': 30, '1.0': 70 } })

      // b restarts while etcd is down: it serves the last weights from its cache and says so.
      await b.stop()
      b = await startReplica(configB, [], b.configPath)
      replicas.push(b)
      expect(b.output()).toMatch(/"event":"state_loaded"[^\n]*"source":"cache"[^\n]*serving the cached state of revision \d+/)
      const cluster = (await admin(b.adminUrl, 'GET', '/v1/cluster')).json
      expect(cluster).toMatchObject({ store: 'etcd', connected: false, source: 'cache', storeRevision: before.json.revision })
      expect(cluster.lastError).toMatch(/\S/)
      const cached = (await admin(b.adminUrl, 'GET', '/v1/services/web')).json
      expect({ revision: cached.revision, weights: cached.weights }).toEqual({ revision: before.json.revision, weights: { '0.9': 30, '1.0': 70 } })
      expect((await putWeights(b, 'web', { '0.9': 50, '1.0': 50 })).status).toBe(503)
    } finally {
      await member.start()
    }

    // Both reconnect by themselves; a change through either reaches the other.
    for (const replica of [a, b]) {
      await eventually(`${replica.id} reconnected`, async () => (await admin(replica.adminUrl, 'GET', '/v1/cluster')).json.connected === true, 20_000)
    }
    expect((await admin(b.adminUrl, 'GET', '/v1/cluster')).json.source).toBe('store')
    expect((await admin(a.adminUrl, 'GET', '/metrics')).json).toMatch(/^zdd_store_up 1$/m)
    const after = await putWeights(b, 'web', { '0.9': 10, '1.0': 90 })
    expect(after.status, JSON.stringify(after.json)).toBe(200)
    await converged([a, b], 'web', after.json.revision)
    expect((await admin(a.adminUrl, 'GET', '/v1/services/web')).json.weights).toEqual({ '0.9': 10, '1.0': 90 })

    const records = await load
    expect(records.length).toBeGreaterThan(2_500)
    expect(failuresOf(records)).toEqual([])

    expect(await a.stop()).toBe(0)
    expect(JSON.parse(readFileSync(probe, 'utf8'))).toEqual({ zodLoaded: false })
    rmSync(dirname(probe), { recursive: true, force: true })
  }, 90_000)
})
