import autocannon from 'autocannon'
import { afterAll, expect, it } from 'vitest'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { binomialBand } from '../helpers/binomial.js'
import {
  admin,
  agent,
  controlConfig,
  newClientGet,
  openEvents,
  sampleGroups,
  startControlledProxy,
  startSimpleService,
  stateDir,
} from './control-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

const WEIGHT_CHANGES = 100
const CYCLES = 10
/** New clients sampled after each change. */
const SAMPLE = 200
/** Every check, at most: 100 changes + 2 per cycle (odd cycles check only their rollback). */
const CHECKS = WEIGHT_CHANGES + 2 * CYCLES
/**
 * Each check accepts the count of group `b` among SAMPLE new clients when it lies in the exact
 * binomial band whose two tails hold at most DELTA/2 each. A fresh cookie id lands in a group with
 * probability weight/total (weighted rendezvous over uniform hashes), so a correct build fails one
 * check with probability <= DELTA and the whole test, by the union bound over CHECKS checks, with
 * probability <= 1e-6. For p = 0.5 the band is about ±0.2 of the share; for p in {0, 1} it is exact.
 */
const DELTA = 1e-6 / CHECKS

/** mulberry32: a seeded generator, so a failing sequence can be replayed from the logged seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

it(
  'keeps serving under load through 100 random weight changes and 10 cut-over/rollback cycles, each split as set',
  async () => {
    // Every instance answers /health after 2–3 s: the long requests that must survive a cut-over.
    const slowHealth = { HEALTH_MIN: '2000', HEALTH_MAX: '3000' }
    const instances = await Promise.all(['0.9', '0.9', '1.0', '1.0'].map((version) => startSimpleService(version, slowHealth)))
    const proxy = await startControlledProxy(
      controlConfig(
        { a: [instances[0]!.address, instances[1]!.address], b: [instances[2]!.address, instances[3]!.address] },
        { a: 50, b: 50 },
        // The override header pins the long requests to the old group (weighted then, so reachable).
        { statePath: `${stateDir()}/state.json`, service: { drainSeconds: 10, override: { header: 'x-zdd-group' } } },
      ),
    )
    const endpoint = `${proxy.url}/endpoint0`
    const events = await openEvents(proxy.adminUrl)
    const failedChecks: string[] = []

    const checkSplit = async (label: string, weights: Record<string, number>) => {
      const share = weights.b! / (weights.a! + weights.b!)
      const { groups, failures } = await sampleGroups(endpoint, SAMPLE)
      const [lo, hi] = binomialBand(SAMPLE, share, DELTA)
      const seen = groups.get('b') ?? 0
      expect(failures).toBe(0)
      expect((groups.get('a') ?? 0) + seen).toBe(SAMPLE)
      if (seen < lo || seen > hi) failedChecks.push(`${label}: b=${seen} of ${SAMPLE}, expected ${lo}..${hi} for share ${share.toFixed(3)}`)
    }

    // Constant background load: 8 connections at 300 requests/s, bounded by duration, stopped when done.
    let loadInstance: autocannon.Instance | undefined
    const load = new Promise<autocannon.Result>((resolve, reject) => {
      loadInstance = autocannon({ url: endpoint, connections: 8, overallRate: 300, duration: 240 }, (error, result) =>
        error ? reject(error) : resolve(result),
      )
    })

    try {
      const seed = Date.now() >>> 0
      const random = seeded(seed)
      let weights: Record<string, number> = { a: 50, b: 50 }
      for (let i = 0; i < WEIGHT_CHANGES; i++) {
        // The last change leaves both groups above 0: a cut-over only drains groups that lose
        // traffic, so the cycles below need an old group that had some.
        const last = i === WEIGHT_CHANGES - 1
        do weights = { a: Math.floor(random() * 11), b: Math.floor(random() * 11) }
        while ((weights.a === 0 && weights.b === 0) || (last && (weights.a === 0 || weights.b === 0)))
        const answer = await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights })
        expect(answer.status).toBe(200)
        await checkSplit(`change ${i + 1} (seed ${seed})`, weights)
      }

      const long: Promise<{ status: number; group: string; old: string }>[] = []
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const to = cycle % 2 === 0 ? 'b' : 'a'
        const old = to === 'a' ? 'b' : 'a'
        // Two long requests pinned to the old group, in flight before the cut-over. The previous
        // cycle's long requests finish first, so the in-flight count below can only be these (or
        // short load requests on top).
        await Promise.all(long)
        const before = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
        const oldInflight = (view: typeof before.json) =>
          view.groups.find((group: { name: string }) => group.name === old).instances.reduce((sum: number, i: { inflight: number }) => sum + i.inflight, 0)
        for (let n = 0; n < 2; n++) {
          long.push(
            newClientGet(`${proxy.url}/health`, { 'x-zdd-group': old }).then(
              (answer) => ({ ...answer, old }),
              (error: Error) => ({ status: -1, group: error.message, old }),
            ),
          )
        }
        // Two reads in a row, 20 ms apart: short load requests (about 1 ms) cannot hold the count up.
        const inflightDeadline = Date.now() + 10_000
        for (let seen = 0; seen < 2; ) {
          if (Date.now() > inflightDeadline) throw new Error(`cycle ${cycle + 1}: long requests never reached group ${old}`)
          seen = oldInflight((await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json) >= 2 ? seen + 1 : 0
          await new Promise((resolve) => setTimeout(resolve, 20))
        }

        const cutover = await admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to, drainSeconds: 10 })
        expect(cutover.status).toBe(200)
        expect(cutover.json.drain.inflight).toBeGreaterThanOrEqual(2)
        const revision = cutover.json.revision as number
        if (cycle % 2 === 0) {
          // (Odd cycles skip this check: on a loaded machine it may outlast the long requests,
          // and their rollback must come while those are still running.)
          await checkSplit(`cycle ${cycle + 1} cut-over to ${to}`, to === 'b' ? { a: 0, b: 1 } : { a: 1, b: 0 })
          // Wait for the drained signal: the long requests finished on the old side, nothing was cut.
          const done = await events.waitFor('cutover_completed', (event) => event.data.revision === revision, 15_000)
          expect(done.data).toMatchObject({ outcome: 'drained', cut: 0 })
          expect(done.data.completed).toBe(done.data.inflightAtStart)
        }
        // Otherwise roll back at once, mid-drain, with the long requests still running.
        const rollback = await admin(proxy.adminUrl, 'POST', '/v1/services/svc/rollback', {})
        expect(rollback.status).toBe(200)
        expect(rollback.json.change.after).toEqual(weights)
        if (cycle % 2 === 1) {
          const superseded = await events.waitFor('cutover_completed', (event) => event.data.revision === revision)
          expect(superseded.data.outcome).toBe('superseded')
        }
        await checkSplit(`cycle ${cycle + 1} rollback`, weights)
      }

      for (const answer of await Promise.all(long)) {
        expect(answer.status).toBe(200)
        expect(answer.group).toBe(answer.old)
      }
      expect(failedChecks).toEqual([])
    } finally {
      loadInstance?.stop()
      events.close()
    }
    const result = await load
    expect(result.requests.total).toBeGreaterThan(0)
    expect(result.non2xx).toBe(0)
    expect(result.errors).toBe(0)
    expect(result.timeouts).toBe(0)
    expect(result.resets).toBe(0)
  },
  180_000,
)
