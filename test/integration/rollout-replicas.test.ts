/**
 * A rollout shared by three replicas on one etcd: exactly one replica (the holder of the driver
 * key) drives it, judging every replica's counts summed; when that replica is killed, another takes
 * the key once its lease (2 s here) has ended and carries the rollout on from the same step.
 */
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, agent, startSimpleService, type Service } from './control-helpers.js'
import { eventually, replicaConfig, startReplica, timedEvents, type Replica } from './replica-helpers.js'

const LEASE_SECONDS = 2
const STEP_SECONDS = 4

let etcd: EtcdCluster
let replicas: Replica[]
const backends: Service[] = []

beforeAll(async () => {
  etcd = await startEtcd(1)
  const [v09, v10] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  backends.push(v09!, v10!)
  const services = [{ name: 'web', groups: { '0.9': [v09!.address], '1.0': [v10!.address] }, weights: { '0.9': 100, '1.0': 0 }, extra: { drainSeconds: 5 } }]
  replicas = []
  // One after the other, so r1 is the first to claim the driver key.
  for (const id of ['r1', 'r2', 'r3']) replicas.push(await startReplica(replicaConfig(etcd.endpoints, id, services, { leaseSeconds: LEASE_SECONDS })))
  await eventually('three replicas registered', async () => (await admin(replicas[0]!.adminUrl, 'GET', '/v1/cluster')).json.replicas.length === 3)
}, 90_000)

afterAll(async () => {
  await Promise.all((replicas ?? []).map((replica) => replica.stop()))
  await stopAll()
  await etcd?.stop()
  await agent.close()
  removeTempFiles()
})

const driverSeenBy = async (replica: Replica) => (await admin(replica.adminUrl, 'GET', '/v1/cluster')).json.driver as string | null

it('is driven by one replica on every replica\'s counts, and by another within one step when that one dies', async () => {
  const drivers = await Promise.all(replicas.map(driverSeenBy))
  expect(new Set(drivers).size).toBe(1)
  const driver = replicas.find((replica) => replica.id === drivers[0])!
  expect(driver).toBeDefined()
  const others = replicas.filter((replica) => replica !== driver)
  const streams = await Promise.all(others.map((replica) => timedEvents(replica.adminUrl)))

  // Traffic only through the two other replicas: the driver counts none itself.
  let done = false
  const load = Promise.all(others.map((replica) => constantLoad({ url: `${replica.url}/endpoint0`, rps: 60, durationMs: 90_000, shouldStop: () => done })))
  // Started through a replica that does not drive: the driver takes it from the shared state.
  const started = await admin(others[0]!.adminUrl, 'POST', '/v1/services/web/rollouts', { to: '1.0', steps: [10, 50, 100], stepSeconds: STEP_SECONDS, analysis: { minRequests: 20 }, drainSeconds: 5 })
  expect(started.status).toBe(201)
  expect(started.json.rollout.driver).toBe(driver.id)

  const [watch] = streams
  await eventually('step 2', () => watch!.events.some((event) => event.event === 'rollout_step' && event.data.step === 2), 30_000)
  const step1 = watch!.events.find((event) => event.event === 'rollout_step')!.data.previous
  expect(step1.figures.replicas).toBe(3)
  expect(step1.figures.canary.requests).toBeGreaterThanOrEqual(20)

  driver.child.kill('SIGKILL')
  const killedAt = performance.now()
  await driver.exited
  let takenOverAt = 0
  await eventually('a new driver', async () => {
    const seen = await driverSeenBy(others[0]!)
    if (seen === null || seen === driver.id) return false
    takenOverAt = performance.now()
    return true
  }, 20_000)
  const successor = await driverSeenBy(others[0]!)
  expect(others.map((replica) => replica.id)).toContain(successor)
  // The other replica learns the new holder through its own watch, a moment later perhaps.
  await eventually('the other replica seeing the same driver', async () => (await driverSeenBy(others[1]!)) === successor, 5_000)
  // The key lives under the dead replica's lease: it ends after LEASE_SECONDS, well within a step.
  expect(takenOverAt - killedAt).toBeLessThan(STEP_SECONDS * 1000)
  // Its membership went with the same lease, in the same revision as the driver key.
  for (const replica of others) {
    const members = (await admin(replica.adminUrl, 'GET', '/v1/cluster')).json.replicas.map((member: { id: string }) => member.id)
    expect(members.sort()).toEqual(others.map((other) => other.id).sort())
  }

  const completed = await new Promise<(typeof watch.events)[number]>((resolve, reject) => {
    const timer = setInterval(() => {
      const event = watch!.events.find((candidate) => candidate.event === 'rollout_completed')
      if (event !== undefined) {
        clearInterval(timer)
        resolve(event)
      } else if (performance.now() - killedAt > 40_000) {
        clearInterval(timer)
        reject(new Error(`no rollout_completed; events: ${watch!.events.map((e) => e.event).join(', ')}`))
      }
    }, 50)
  })
  // Each replica hears of the completion through its own etcd watch: wait for the slower one too.
  await eventually('rollout_completed on every replica', () => streams.every((stream) => stream.events.some((event) => event.event === 'rollout_completed')), 10_000)
  done = true
  const records = (await load).flat()
  for (const stream of streams) stream.close()

  expect(failuresOf(records)).toEqual([])
  // Each step once, in order: the rollout went on from step 2, it did not start over.
  expect(completed.data.results.map((result: { step: number; result: string }) => [result.step, result.result])).toEqual([[1, 'passed'], [2, 'passed'], [3, 'passed']])
  // Step 3 (the cut-over) came from the successor, at most one step after it took over.
  const step3 = watch!.events.find((event) => event.event === 'rollout_step' && event.data.step === 3)!
  expect(step3.at - takenOverAt).toBeLessThan(STEP_SECONDS * 1000 + 1000)
  // Counted by the two replicas left.
  expect(completed.data.results[2].figures.replicas).toBe(2)
  expect(completed.data.drain.outcome).toBe('drained')
  for (const stream of streams) {
    const types = stream.events.map((event) => event.event).filter((type) => type.startsWith('rollout_'))
    expect(types).toEqual(['rollout_started', 'rollout_step', 'rollout_step', 'rollout_completed'])
  }
  const views = await Promise.all(others.map(async (replica) => (await admin(replica.adminUrl, 'GET', '/v1/services/web/rollout')).json.rollout))
  for (const view of views) expect(view).toMatchObject({ id: started.json.rollout.id, phase: 'completed', driver: successor })
})
