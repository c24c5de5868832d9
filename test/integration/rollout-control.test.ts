/**
 * Steering a rollout: the API's refusals, pause/resume/promote/abort, an operator's own weight
 * change pausing it, and the `zdd-proxy rollout` commands (exit 0 completed, 3 rolled back).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { constantLoad } from '../helpers/constant-load.js'
import { runCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, agent, openEvents } from './control-helpers.js'
import { rolloutLab, rolloutOf, startRollout, type RolloutLab } from './rollout-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

describe('the rollout API', () => {
  let lab: RolloutLab
  const post = (path: string, body: unknown = {}) => admin(lab.proxy.adminUrl, 'POST', `/v1/services/svc${path}`, body)

  it('shows no rollout before the first, and refuses bad requests naming the field', async () => {
    lab = await rolloutLab()
    expect((await admin(lab.proxy.adminUrl, 'GET', '/v1/services/svc/rollout')).json).toEqual({ service: 'svc', rollout: null })
    const refusals: [string, unknown, number, string, RegExp][] = [
      ['/rollouts', { to: 'nope' }, 400, 'invalid_body', /to: unknown group "nope" \(groups: 0\.9, 1\.0\)/],
      ['/rollouts', { to: '1.0', steps: [50, 20] }, 400, 'invalid_body', /steps\[1\]: must be above the step before it/],
      ['/rollouts', { to: '1.0', analysis: { maxErrorRate: '1%' } }, 400, 'invalid_body', /analysis\.maxErrorRate/],
      ['/rollouts', { to: '1.0', stepSecond: 3 }, 400, 'invalid_body', /stepSecond: unknown field/],
      ['/rollouts', { to: '0.9' }, 409, 'no_baseline', /no group but 0\.9 has a weight above 0/],
      ['/rollout/pause', {}, 404, 'no_rollout', /svc has no rollout/],
      ['/rollout/stop', {}, 404, 'not_found', /no such endpoint/],
    ]
    for (const [path, body, status, code, message] of refusals) {
      const answer = await post(path, body)
      expect([path, answer.status, answer.json.error?.code], JSON.stringify(answer.json)).toEqual([path, status, code])
      expect(answer.json.error.message).toMatch(message)
    }
    expect((await admin(lab.proxy.adminUrl, 'POST', '/v1/services/nope/rollouts', { to: '1.0' })).status).toBe(404)
    // Nothing was applied by any of them.
    expect((await admin(lab.proxy.adminUrl, 'GET', '/v1/services/svc')).json).toMatchObject({ revision: 0, weights: { '0.9': 100, '1.0': 0 } })
  })

  it('pauses, resumes, promotes and aborts; one rollout at a time; an operator\'s weights pause it', async () => {
    const events = await openEvents(lab.proxy.adminUrl, '?event_type=rollout_started&event_type=rollout_step&event_type=rollout_paused&event_type=rollout_resumed&event_type=rollout_aborted')
    // Long steps: nothing moves unless told to.
    const started = await startRollout(lab.proxy.adminUrl, { steps: [10, 40, 100], stepSeconds: 3600, analysis: { minRequests: 1 } })
    expect(started.service.weights).toEqual({ '0.9': 90, '1.0': 10 })
    const again = await post('/rollouts', { to: '1.0' })
    expect([again.status, again.json.error.code]).toEqual([409, 'rollout_in_progress'])

    const manual = await admin(lab.proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { '0.9': 70, '1.0': 30 } })
    expect(manual.status).toBe(200)
    expect(await rolloutOf(lab.proxy.adminUrl)).toMatchObject({ phase: 'paused', step: 1, reason: expect.stringMatching(/weights set by the operator/), weights: { '0.9': 70, '1.0': 30 } })
    expect((await post('/rollout/pause')).json.error.code).toBe('rollout_not_active')

    const resumed = await post('/rollout/resume')
    expect(resumed.status).toBe(200)
    // The rollout owns the weights again: its step's, not the operator's.
    expect(resumed.json.rollout).toMatchObject({ phase: 'running', step: 1, weights: { '0.9': 90, '1.0': 10 } })

    const promoted = await post('/rollout/promote', { reason: 'looks fine' })
    expect(promoted.json.rollout).toMatchObject({ phase: 'running', step: 2, weight: 40, weights: { '0.9': 60, '1.0': 40 } })
    expect(promoted.json.rollout.results).toEqual([expect.objectContaining({ step: 1, weight: 10, result: 'promoted' })])

    expect((await post('/rollout/pause', { reason: 'lunch' })).json.rollout).toMatchObject({ phase: 'paused', reason: 'paused by the operator: lunch' })
    const aborted = await post('/rollout/abort')
    expect(aborted.json.rollout).toMatchObject({ phase: 'aborted', endedAt: expect.any(String), weights: { '0.9': 100, '1.0': 0 } })
    expect((await post('/rollout/abort')).json.error.code).toBe('rollout_not_active')
    // A finished rollout is shown until the next one starts.
    expect((await rolloutOf(lab.proxy.adminUrl)).phase).toBe('aborted')

    await events.waitFor('rollout_aborted')
    events.close()
    expect(events.events.map((event) => [event.event, event.data.step])).toEqual([
      ['rollout_started', 1],
      ['rollout_paused', 1],
      ['rollout_resumed', 1],
      ['rollout_step', 2],
      ['rollout_paused', 2],
      ['rollout_aborted', 2],
    ])
    expect(events.events[5]!.data).toMatchObject({ restored: { '0.9': 100, '1.0': 0 }, weights: { '0.9': 100, '1.0': 0 } })
    // The history tells the rollout's changes from the operator's.
    const history = (await admin(lab.proxy.adminUrl, 'GET', '/v1/services/svc')).json.history as { rollout?: string; reason?: string }[]
    expect(history.map((entry) => entry.rollout === started.rollout.id)).toEqual([true, false, true, true, true])
  })
})

describe('zdd-proxy rollout', () => {
  it('follows a rollout to its end with --wait: exit 0 when completed', async () => {
    const lab = await rolloutLab()
    let done = false
    const load = constantLoad({ url: `${lab.proxy.url}/endpoint0`, rps: 80, durationMs: 60_000, shouldStop: () => done })
    const run = await runCli(['rollout', 'svc', '1.0', '--steps', '20,100', '--step-seconds', '1', '--min-requests', '5', '--max-error-rate', '1%', '--max-p99', '5s', '--drain', '2', '--wait', '--admin', lab.proxy.adminUrl], { timeoutMs: 60_000 })
    done = true
    await load
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^svc: rollout svc-\S+ started \(revision 1\)$/)
    expect(run.stdout).toMatch(/svc: running step 1\/2, 1\.0 at 20 % \(0\.9=80 1\.0=20\) · canary \d+ req, [\d.]+ % errors, p99 [\d.]+ ms \| baseline \d+ req/)
    expect(lines.at(-1)).toMatch(/^svc: rollout svc-\S+ completed, 1\.0 at 100 % \(0\.9=0 1\.0=100\); cut-over drained: \d+ of \d+ in-flight requests completed, 0 cut$/)

    const status = await runCli(['rollout', 'status', 'svc', '--admin', lab.proxy.adminUrl])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^svc {2}rollout svc-\S+ {2}completed {2}step 2\/2 {2}1\.0 at 100 %\n/)
    expect(status.stdout).toMatch(/STEP +WEIGHT +RESULT +CANARY +BASELINE\n +1 +20 % +passed +\d+ req/)
    const json = JSON.parse((await runCli(['rollout', 'status', 'svc', '--json', '--admin', lab.proxy.adminUrl])).stdout)
    expect(json.rollout.phase).toBe('completed')
    await lab.proxy.stop()
  })

  it('exits 3 when the canary is rolled back, naming the figures that failed it', async () => {
    const lab = await rolloutLab({ canaryEnv: { FAIL_RATE: '0.5' } })
    let done = false
    const load = constantLoad({ url: `${lab.proxy.url}/endpoint0`, rps: 80, durationMs: 60_000, shouldStop: () => done })
    // Passing needs no error in the first 40 canary requests at 50 %: 0.5^40 ≈ 1e-12.
    const run = await runCli(['rollout', 'svc', '1.0', '--steps', '25,100', '--step-seconds', '1', '--min-requests', '40', '--wait', '--admin', lab.proxy.adminUrl], { timeoutMs: 60_000 })
    done = true
    await load
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(/svc: rollout svc-\S+ failed at step 1\/2 and was rolled back to 0\.9=100 1\.0=0: canary error rate [\d.]+ % above the limit of 1\.00 % \(canary \d+ req/)
    expect(run.stderr).toMatch(/^zdd-proxy: rollout svc-\S+ failed and svc is back at its weights before it\n$/)
    await lab.proxy.stop()
  })

  it('pauses, resumes, promotes and aborts, and refuses bad values before asking the proxy', async () => {
    const lab = await rolloutLab()
    const cli = (...args: string[]) => runCli([...args, '--admin', lab.proxy.adminUrl])
    expect((await cli('rollout', 'status', 'svc')).stdout).toBe('svc: no rollout yet\n')
    for (const [args, message] of [
      [['--max-error-rate', 'lots'], /--max-error-rate: expected a percentage like 1% or a share like 0\.01; got "lots"/],
      [['--max-p99', 'fast'], /--max-p99: expected a duration like 500ms or 0\.5s; got "fast"/],
      [['--steps', '5;25'], /--steps: expected percentages separated by commas/],
    ] as const) {
      const bad = await cli('rollout', 'svc', '1.0', ...args)
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(message)])
    }
    expect((await cli('rollout', 'svc', '1.0', '--steps', '10,50', '--step-seconds', '3600')).code).toBe(0)
    const paused = await cli('rollout', 'pause', 'svc', '--reason', 'checking')
    expect(paused.stdout).toMatch(/^svc: paused step 1\/2, 1\.0 at 10 % \(0\.9=90 1\.0=10\) · canary .* · paused: paused by the operator: checking \(revision 2\)\n$/)
    expect((await cli('rollout', 'resume', 'svc')).code).toBe(0)
    expect((await cli('rollout', 'promote', 'svc')).stdout).toMatch(/^svc: running step 2\/2, 1\.0 at 50 %/)
    const twice = await cli('rollout', 'resume', 'svc')
    expect([twice.code, twice.stderr]).toEqual([1, expect.stringMatching(/^zdd-proxy: cannot resume rollout \S+ of svc: it is running \(409 rollout_not_active\)\n$/)])
    expect((await cli('rollout', 'abort', 'svc')).stdout).toMatch(/^svc: rollout \S+ aborted at step 2\/2, back to 0\.9=100 1\.0=0: aborted by the operator \(revision \d+\)\n$/)
    await lab.proxy.stop()
  })
})
