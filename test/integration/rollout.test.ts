/**
 * Progressive rollouts on one proxy (file store), with real simpleservice backends under constant
 * load: a healthy canary completes through its cut-over, a failing or slow one is rolled back at
 * its first step, a baseline failing as much as the canary does not stop it, and a restart mid-step
 * resumes at that step. Step lengths are short (stepSeconds 2); the statistical checks are sized
 * so a correct build fails them less than once in 10^6 runs (the figures are in each test).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, agent, openEvents, startControlledProxy } from './control-helpers.js'
import { rolloutLab, rolloutOf, startRollout, versionOf } from './rollout-helpers.js'

afterEach(async () => {
  await stopAll()
})

afterAll(async () => {
  await agent.close()
  removeTempFiles()
})

describe('a progressive rollout', () => {
  it('takes a healthy canary through 10/50/100 at 2 s steps to a drained cut-over, with no failed request', async () => {
    const { proxy } = await rolloutLab()
    const events = await openEvents(proxy.adminUrl)
    let done = false
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 100, durationMs: 60_000, shouldStop: () => done })
    await sleep(500)
    const started = await startRollout(proxy.adminUrl, { steps: [10, 50, 100], stepSeconds: 2, analysis: { minRequests: 10, maxErrorRate: 0.01, maxP99Ms: 2000 }, finish: 'cutover', drainSeconds: 5 })
    expect(started.rollout).toMatchObject({ phase: 'running', step: 1, of: 3, weight: 10, weights: { '0.9': 90, '1.0': 10 } })
    const completed = await events.waitFor('rollout_completed', undefined, 45_000)
    done = true
    const records = await load
    events.close()

    expect(failuresOf(records)).toEqual([])
    expect(completed.data).toMatchObject({ service: 'svc', id: started.rollout.id, phase: 'completed', weights: { '0.9': 0, '1.0': 100 } })
    expect(completed.data.drain).toMatchObject({ outcome: 'drained', cut: 0 })
    expect(completed.data.results.map((result: { result: string }) => result.result)).toEqual(['passed', 'passed', 'passed'])
    for (const result of completed.data.results) expect(result.figures.canary.requests).toBeGreaterThanOrEqual(10)
    const ours = events.events.map((event) => event.event).filter((type) => type.startsWith('rollout_') || type.startsWith('cutover_'))
    // A step's own change is announced first (weights_changed, cutover_started), then the step.
    expect(ours).toEqual(['rollout_started', 'rollout_step', 'cutover_started', 'rollout_step', 'cutover_completed', 'rollout_completed'])
    const view = await rolloutOf(proxy.adminUrl)
    expect(view).toMatchObject({ phase: 'completed', step: 3, verdict: null, drain: { outcome: 'drained' } })
    expect((await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json.weights).toEqual({ '0.9': 0, '1.0': 100 })
  })

  it('rolls a canary answering 20 % errors back at its first step, after it saw under 2 % of the requests', async () => {
    const { proxy } = await rolloutLab({ canaryEnv: { FAIL_RATE: '0.2' } })
    const events = await openEvents(proxy.adminUrl)
    // 6000 requests; the canary gets 5 % of them until it has minRequests (70) and is judged.
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 400, durationMs: 15_000 })
    await sleep(1_000)
    // A correct build passes this canary only if its first 70+ requests hold no error at all:
    // 0.8^70 = 1.6e-7. Judged at once: 70 requests at 5 % of 400/s take 3.5 s > stepSeconds.
    const started = await startRollout(proxy.adminUrl, { steps: [5, 25, 50, 100], stepSeconds: 2, analysis: { minRequests: 70, maxErrorRate: 0.01 } })
    const failed = await events.waitFor('rollout_failed', undefined, 30_000)
    const records = await load
    events.close()

    expect(failed.data).toMatchObject({ service: 'svc', id: started.rollout.id, step: 1, phase: 'failed', weights: { '0.9': 100, '1.0': 0 }, restored: { '0.9': 100, '1.0': 0 } })
    expect(failed.data.failed).toEqual([{ check: 'errorRate', canary: expect.any(Number), limit: 0.01 }])
    expect(failed.data.failed[0].canary).toBeGreaterThan(0.01)
    expect(failed.data.figures.canary.errorRate).toBe(failed.data.failed[0].canary)
    expect(failed.data.figures.canary.requests).toBeGreaterThanOrEqual(70)
    expect(failed.data.reason).toMatch(/^canary error rate \d+\.\d\d % above the limit of 1\.00 %$/)
    expect(events.events.filter((event) => event.event === 'rollout_step')).toEqual([])
    // Every answer came from one version or the other, and the canary's share of them stayed under 2 %
    // (about 70 to 100 of 6000 here: the judgement needs 70, the rollback lands within a tick or two).
    const canary = records.filter((record) => versionOf(record) === '1.0').length
    expect(records.filter((record) => versionOf(record) === undefined)).toEqual([])
    expect(records.length).toBeGreaterThan(5_000)
    expect(canary / records.length).toBeLessThan(0.02)
    expect((await rolloutOf(proxy.adminUrl)).failed[0].check).toBe('errorRate')
  })

  it('rolls a canary slower than maxP99Ms back, naming its p99', async () => {
    const { proxy } = await rolloutLab({ canaryEnv: { LATENCY_MS: '800' } })
    const events = await openEvents(proxy.adminUrl)
    let done = false
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 100, durationMs: 30_000, shouldStop: () => done })
    await sleep(500)
    await startRollout(proxy.adminUrl, { steps: [10, 50, 100], stepSeconds: 2, analysis: { minRequests: 20, maxP99Ms: 500 } })
    const failed = await events.waitFor('rollout_failed', undefined, 25_000)
    done = true
    await load
    events.close()

    // Every canary answer takes 800 ms: the (0.5 s, 1 s] bucket, whose p99 reads 995 ms.
    expect(failed.data.failed).toEqual([{ check: 'p99', canary: 995, limit: 500 }])
    expect(failed.data.reason).toBe('canary p99 995.0 ms above the limit of 500 ms')
    expect(failed.data).toMatchObject({ step: 1, weights: { '0.9': 100, '1.0': 0 } })
  })

  it('goes on when the baseline fails as often as the canary (compareToBaseline)', async () => {
    const { proxy } = await rolloutLab({ canaryEnv: { FAIL_RATE: '0.05' }, baselineEnv: { FAIL_RATE: '0.05' } })
    const events = await openEvents(proxy.adminUrl)
    let done = false
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 300, durationMs: 90_000, shouldStop: () => done })
    await sleep(500)
    // Both at 5 %: alone the canary would fail a 4 % limit, against the baseline it must not. Each
    // step is judged once, at the first tick with 1500 requests a side (later than its 2 s): the
    // difference of the two rates has sd sqrt(2 * 0.05 * 0.95 / 1500) = 0.0080, so going over 0.04 is a
    // 5-sd event (3e-7); two steps (the 100 % one against step 1's baseline): < 10^-6.
    const started = await startRollout(proxy.adminUrl, {
      steps: [50, 100],
      stepSeconds: 2,
      analysis: { minRequests: 1500, maxErrorRate: 0.04, compareToBaseline: true, maxWaitSeconds: 60 },
      finish: 'weights',
    })
    const completed = await events.waitFor('rollout_completed', undefined, 60_000)
    done = true
    await load
    events.close()

    expect(events.events.filter((event) => event.event === 'rollout_failed')).toEqual([])
    expect(completed.data).toMatchObject({ id: started.rollout.id, weights: { '0.9': 0, '1.0': 100 } })
    const [first, second] = completed.data.results
    expect(first.figures.baseline.requests).toBeGreaterThanOrEqual(1500)
    expect(first.figures.baseline.errorRate).toBeGreaterThan(0)
    expect(first.figures.canary.errorRate).toBeGreaterThan(0)
    // The 100 % step had no baseline traffic: step 1's baseline stood in.
    expect(second.figures.baselineFromStep).toBe(1)
  })

  it('resumes at the same step after the proxy restarts (file store)', async () => {
    const { proxy } = await rolloutLab()
    const events = await openEvents(proxy.adminUrl)
    const inStep2 = () => events.events.some((event) => event.event === 'rollout_step')
    // Load until step 2 opens; without it step 2 then waits for its 30 canary requests.
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 100, durationMs: 30_000, shouldStop: inStep2 })
    const started = await startRollout(proxy.adminUrl, { steps: [10, 50, 100], stepSeconds: 1, analysis: { minRequests: 30, maxWaitSeconds: 120 } })
    await events.waitFor('rollout_step', undefined, 25_000)
    await load
    events.close()
    const before = await rolloutOf(proxy.adminUrl)
    expect(before).toMatchObject({ phase: 'running', step: 2, weights: { '0.9': 50, '1.0': 50 } })
    expect(await proxy.stop('SIGTERM')).toBe(0)

    // Only the state file can carry the rollout over.
    const restarted = await startControlledProxy(undefined, undefined, proxy.configPath)
    const after = await rolloutOf(restarted.adminUrl)
    expect(after).toMatchObject({ id: started.rollout.id, phase: 'running', step: 2, windowStartedAt: before.windowStartedAt, weights: { '0.9': 50, '1.0': 50 } })
    expect(after.results).toEqual(before.results)
    const resumed = await openEvents(restarted.adminUrl)
    let done = false
    const more = constantLoad({ url: `${restarted.url}/endpoint0`, rps: 100, durationMs: 30_000, shouldStop: () => done })
    const completed = await resumed.waitFor('rollout_completed', undefined, 25_000)
    done = true
    expect(failuresOf(await more)).toEqual([])
    resumed.close()
    expect(completed.data.results.map((result: { step: number; result: string }) => [result.step, result.result])).toEqual([[1, 'passed'], [2, 'passed'], [3, 'passed']])
    // Step 2 was judged on what the restarted proxy counted.
    expect(completed.data.results[1].figures.canary.requests).toBeGreaterThanOrEqual(30)
  })
})
