/**
 * Three replicas sharing one etcd (one of them `serve --workers 2`): changes through any replica
 * reach all, If-Match races have one winner, a cut-over completes only when every replica drained,
 * and status names a replica that lags.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js'
import { runCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, agent, startSimpleService, type Service } from './control-helpers.js'
import { converged, eventually, putWeights, replicaConfig, revisionOf, startReplica, timedEvents, type Replica, type ServiceSpec } from './replica-helpers.js'

const CHANGES = 100
/** The target for the time from the writer's 200 to the last replica applying the change. */
const TARGET_P99_MS = 250
/** What the test asserts: the target with room for a loaded 2-core machine (the bench measures it cleanly). */
const ASSERTED_P99_MS = 4 * TARGET_P99_MS
const SLOW_MS = 5_000

let etcd: EtcdCluster
let replicas: Replica[]
let services: ServiceSpec[]
const backends: Service[] = []
const scratch = mkdtempSync(join(tmpdir(), 'zdd-replicas-'))

beforeAll(async () => {
  etcd = await startEtcd(1)
  const [v09, v10, blue, green] = await Promise.all([
    startSimpleService('0.9'),
    startSimpleService('1.0'),
    startSimpleService('blue', { LATENCY_MS: String(SLOW_MS) }),
    startSimpleService('green'),
  ])
  backends.push(v09!, v10!, blue!, green!)
  services = [
    { name: 'web', groups: { '0.9': [v09!.address], '1.0': [v10!.address] }, weights: { '0.9': 80, '1.0': 20 } },
    { name: 'slow', groups: { blue: [blue!.address], green: [green!.address] }, weights: { blue: 100, green: 0 } },
  ]
  // A lease long enough that r1, stopped (SIGSTOP) to make it lag, stays a member meanwhile.
  const state = { leaseSeconds: 15 }
  replicas = await Promise.all([
    startReplica(replicaConfig(etcd.endpoints, 'r1', services, state)),
    startReplica(replicaConfig(etcd.endpoints, 'r2', services, state)),
    startReplica(replicaConfig(etcd.endpoints, 'r3', services, state), ['--workers', '2']),
  ])
  await eventually('three replicas registered', async () => (await admin(replicas[0]!.adminUrl, 'GET', '/v1/cluster')).json.replicas.length === 3)
}, 90_000)

afterAll(async () => {
  await Promise.all((replicas ?? []).map((replica) => replica.stop()))
  await stopAll()
  await etcd?.stop()
  removeTempFiles()
  rmSync(scratch, { recursive: true, force: true })
})

describe('replicas sharing etcd', () => {
  it('applies 100 weight changes through random replicas on every replica, under load', async () => {
    const streams = await Promise.all(replicas.map((replica) => timedEvents(replica.adminUrl, '?event_type=weights_changed')))
    let done = false
    const load = Promise.all(
      replicas.map((replica) => constantLoad({ url: `${replica.urls.get('web')}/endpoint0`, rps: 60, durationMs: 90_000, shouldStop: () => done })),
    )
    const latencies: number[] = []
    let last = { revision: 0, weights: {} as Record<string, number> }
    try {
      for (let i = 0; i < CHANGES; i++) {
        const writer = replicas[Math.floor(Math.random() * replicas.length)]!
        const share = 1 + Math.floor(Math.random() * 99)
        const weights = { '0.9': 100 - share, '1.0': share }
        const answer = await putWeights(writer, 'web', weights)
        const answeredAt = performance.now()
        expect(answer.status, JSON.stringify(answer.json)).toBe(200)
        const revision = answer.json.revision as number
        expect(revision).toBeGreaterThan(last.revision)
        last = { revision, weights }
        let appliedAt = 0
        await eventually(`revision ${revision} on every replica`, () => {
          const arrivals = streams.map((stream) => stream.events.find((event) => event.data.revision === revision)?.at)
          if (arrivals.some((at) => at === undefined)) return false
          appliedAt = Math.max(...(arrivals as number[]))
          return true
        })
        latencies.push(Math.max(0, appliedAt - answeredAt))
        if (appliedAt - answeredAt > 100) {
          const lags = streams.map((stream, index) => `${replicas[index]!.id}:${(stream.events.find((event) => event.data.revision === revision)!.at - answeredAt).toFixed(0)}`)
          process.stdout.write(`slow change ${i} via ${writer.id}: ${lags.join(' ')}\n`)
        }
      }
    } finally {
      done = true
      streams.forEach((stream) => stream.close())
    }
    const records = (await load).flat()
    latencies.sort((a, b) => a - b)
    const p99 = latencies[Math.ceil(0.99 * latencies.length) - 1]!
    const p50 = latencies[Math.ceil(0.5 * latencies.length) - 1]!
    process.stdout.write(
      `replicas: ${CHANGES} changes through random replicas, writer's 200 → last replica applied: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (target p99 ≤ ${TARGET_P99_MS} ms); ${records.length} requests under load\n`,
    )
    expect(p99).toBeLessThanOrEqual(ASSERTED_P99_MS)
    expect(failuresOf(records)).toEqual([])
    // Each replica saw each change exactly once, in order.
    for (const stream of streams) {
      const seen = stream.events.map((event) => event.data.revision as number)
      expect(new Set(seen).size).toBe(seen.length)
      expect([...seen].sort((a, b) => a - b)).toEqual(seen)
    }
    for (const replica of replicas) {
      const view = (await admin(replica.adminUrl, 'GET', '/v1/services/web')).json
      expect({ revision: view.revision, weights: view.weights }).toEqual(last)
    }
  }, 180_000)

  it('gives the same group to the same identities through every replica (canary-check)', async () => {
    const identities = join(scratch, 'identities.json')
    const runs = []
    for (const replica of replicas) {
      const run = await runCli(['canary-check', replica.urls.get('web')!, '200', '--identities', identities, '--json'], { timeoutMs: 60_000 })
      expect(run.code, run.stderr).toBe(0)
      runs.push(JSON.parse(run.stdout) as { clients: number; errors: number; moved?: Record<string, number> })
    }
    expect(runs.map((run) => run.errors)).toEqual([0, 0, 0])
    // The second and third replica are compared with the first one's answers, client by client.
    for (const run of runs.slice(1)) expect(Object.values(run.moved ?? {}).every((count) => count === 0), JSON.stringify(run.moved)).toBe(true)
  }, 120_000)

  it('two replicas PUT with the same If-Match at once: exactly one 200, one 412', async () => {
    for (let round = 0; round < 5; round++) {
      const revision = await revisionOf(replicas[0]!, 'web')
      await converged(replicas, 'web', revision)
      const ifMatch = { 'if-match': `"${revision}"` }
      const answers = await Promise.all([
        putWeights(replicas[0]!, 'web', { '0.9': 70, '1.0': 30 }, ifMatch),
        putWeights(replicas[1]!, 'web', { '0.9': 60, '1.0': 40 }, ifMatch),
      ])
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412])
      const loser = answers.find((answer) => answer.status === 412)!
      expect(loser.json.error.code).toBe('revision_mismatch')
      const winner = answers.find((answer) => answer.status === 200)!
      await converged(replicas, 'web', winner.json.revision)
    }
  }, 60_000)

  it('completes a cut-over only once the replica with slow requests in flight has drained', async () => {
    const streams = await Promise.all(replicas.map((replica) => timedEvents(replica.adminUrl, '?event_type=cutover_completed')))
    const slowReplica = replicas[1]!
    const slowUrl = `${slowReplica.urls.get('slow')}/endpoint0`
    const slow = Array.from({ length: 4 }, async () => {
      const response = await request(slowUrl, { dispatcher: agent })
      await response.body.text()
      return { status: response.statusCode, endedAt: performance.now() }
    })
    await eventually('slow requests in flight', async () => {
      const view = (await admin(slowReplica.adminUrl, 'GET', '/v1/services/slow')).json
      return view.groups.find((group: { name: string }) => group.name === 'blue').instances[0].inflight === 4
    })
    // Through another replica, waiting as an operator would.
    const cutover = runCli(['cutover', 'slow', 'green', '--drain', '30', '--wait', '--json', '--admin', replicas[0]!.adminUrl], { timeoutMs: 60_000 })
    await eventually('the cut-over on every replica', async () => {
      const views = await Promise.all(replicas.map(async (replica) => (await admin(replica.adminUrl, 'GET', '/v1/services/slow')).json))
      return views.every((view) => view.weights.green === 100)
    })
    // A third replica sees the slow one's report arrive (it writes it right after applying the cut-over).
    await eventually('the slow replica draining, seen from a third', async () => {
      const during = (await admin(replicas[2]!.adminUrl, 'GET', '/v1/services/slow')).json.cutover
      const part = during.replicas.find((candidate: { replica: string }) => candidate.replica === slowReplica.id)
      return during.phase === 'draining' && part.phase === 'draining' && part.inflight === 4
    })
    const finished = await Promise.all(slow)
    const waited = await cutover
    const waitedAt = performance.now()
    expect(finished.map((answer) => answer.status)).toEqual([200, 200, 200, 200])
    const slowEnd = Math.min(...finished.map((answer) => answer.endedAt))
    expect(waited.code, waited.stderr).toBe(0)
    const answer = JSON.parse(waited.stdout)
    expect(answer.drain).toMatchObject({ phase: 'drained', counts: { inflightAtStart: 4, completed: 4, cut: 0 } })
    expect(waitedAt).toBeGreaterThanOrEqual(slowEnd)
    await eventually('cutover_completed on every replica', () => streams.every((stream) => stream.events.length > 0)).catch(async (error: Error) => {
      const views = await Promise.all(replicas.map(async (replica) => JSON.stringify((await admin(replica.adminUrl, 'GET', '/v1/services/slow')).json.cutover)))
      throw new Error(`${error.message}: ${views.join('\n')}`)
    })
    for (const stream of streams) {
      const [completed] = stream.events
      expect(completed!.data).toMatchObject({ service: 'slow', to: 'green', outcome: 'drained', inflightAtStart: 4, completed: 4, replicas: 3 })
      // Nothing said "completed" while the slow replica still had requests running.
      expect(completed!.at).toBeGreaterThanOrEqual(slowEnd - 50)
      stream.close()
    }
  }, 90_000)

  it('status shows the replicas and the one that lags', async () => {
    const lagging = replicas[0]!
    lagging.child.kill('SIGSTOP')
    try {
      const answer = await putWeights(replicas[1]!, 'web', { '0.9': 55, '1.0': 45 })
      expect(answer.status).toBe(200)
      await converged([replicas[1]!, replicas[2]!], 'web', answer.json.revision)
      await eventually('the lag visible', async () => {
        const cluster = (await admin(replicas[1]!.adminUrl, 'GET', '/v1/cluster')).json
        return cluster.replicas.some((replica: { id: string; lagging: boolean }) => replica.id === lagging.id && replica.lagging)
      })
      const status = await runCli(['status', '--admin', replicas[1]!.adminUrl])
      expect(status.code, status.stderr).toBe(0)
      expect(status.stdout).toMatch(/replicas: 3 on etcd, store revision \d+/)
      expect(status.stdout).toMatch(new RegExp(`${lagging.id}\\s+\\d+\\s+.*lagging`))
      const cluster = (await admin(replicas[1]!.adminUrl, 'GET', '/v1/cluster')).json
      expect(cluster).toMatchObject({ store: 'etcd', connected: true, storeRevision: answer.json.revision })
      expect(cluster.replicas.map((replica: { id: string }) => replica.id)).toEqual(['r1', 'r2', 'r3'])
      expect(cluster.replicas.find((replica: { self: boolean }) => replica.self).id).toBe('r2')
    } finally {
      lagging.child.kill('SIGCONT')
    }
    const revision = await revisionOf(replicas[1]!, 'web')
    await converged(replicas, 'web', revision)
    await eventually('no replica lagging', async () => {
      const cluster = (await admin(replicas[1]!.adminUrl, 'GET', '/v1/cluster')).json
      return cluster.replicas.every((replica: { lagging: boolean }) => !replica.lagging)
    })
    const status = await runCli(['status', '--admin', replicas[1]!.adminUrl])
    expect(status.stdout).not.toMatch(/lagging/)
  }, 60_000)

  // Each replica fits a state it reads from the store to the config in force, not to the one it
  // started with: otherwise the service a reload added is dropped from every state another replica
  // writes (and logged as a mismatch).
  it('a service added by a reload on every replica takes the weights written through any of them', async () => {
    const [v09, v10] = backends
    for (const replica of replicas) {
      const config = JSON.parse(readFileSync(replica.configPath, 'utf8')) as { services: Record<string, unknown>[] }
      config.services.push({ ...config.services[0]!, name: 'api', groups: [{ name: 'old', instances: [v09!.address] }, { name: 'new', instances: [v10!.address] }], weights: { old: 100, new: 0 } })
      writeFileSync(replica.configPath, JSON.stringify(config))
      const reloaded = await admin(replica.adminUrl, 'POST', '/v1/reload', {})
      expect(reloaded.status, JSON.stringify(reloaded.json)).toBe(200)
    }
    const answer = await putWeights(replicas[1]!, 'api', { old: 30, new: 70 })
    expect(answer.status, JSON.stringify(answer.json)).toBe(200)
    await converged(replicas, 'api', answer.json.revision)
    for (const replica of replicas) {
      expect((await admin(replica.adminUrl, 'GET', '/v1/services/api')).json.weights).toEqual({ old: 30, new: 70 })
      // The service the others had before the reload kept its weights too.
      expect((await admin(replica.adminUrl, 'GET', '/v1/services/web')).json.weights).toEqual((await admin(replicas[1]!.adminUrl, 'GET', '/v1/services/web')).json.weights)
      expect(replica.output()).not.toMatch(/"event":"state_mismatch"/)
    }
  }, 60_000)
})
