import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles, tempDir } from '../helpers/proxy.js'
import { agent, controlConfig, startControlledProxy, startSimpleService, stateDir } from './control-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

describe('admin commands against the demo', () => {
  let adminUrl: string
  const cli = (...args: string[]) => runCli([...args, '--admin', adminUrl], { timeoutMs: 20_000 })

  beforeAll(async () => {
    const demo = await startCli(['demo', '--port', '0', '--admin-port', '0'], {
      waitFor: /proxy listening on http:\/\/127\.0\.0\.1:\d+[\s\S]*admin API on (http:\/\/127\.0\.0\.1:\d+):/,
      timeoutMs: 30_000,
      // stopAll kills it: its state directory goes inside one removeTempFiles removes.
      env: { TMPDIR: tempDir() },
    })
    adminUrl = demo.match[1]!
  })

  it('status prints services, groups, weights, instances and their health', async () => {
    const result = await cli('status')
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toBe('simpleservice  revision 0  weights 0.9=80 1.0=20')
    expect(lines).toContain('  GROUP  WEIGHT  SHARE  OF REQUESTS  OF CLIENTS  INSTANCES')
    // No request went through the proxy yet: nothing observed.
    expect(lines).toContain('  0.9    80      80.0%  -            -           3 of 3 live')
    expect(lines).toContain('  1.0    20      20.0%  -            -           1 of 1 live')
    expect(lines.some((line) => /^ {2}INSTANCE +GROUP +HEALTH +LIVE +IN FLIGHT$/.test(line))).toBe(true)
    const instances = lines.filter((line) => /^ {2}127\.0\.0\.1:\d+ /.test(line))
    expect(instances).toHaveLength(4)
    expect(instances.filter((line) => /^ {2}\S+ +0\.9 +healthy +yes +0$/.test(line))).toHaveLength(3)
    expect(instances.filter((line) => /^ {2}\S+ +1\.0 +healthy +yes +0$/.test(line))).toHaveLength(1)

    const json = JSON.parse((await cli('status', '--json')).stdout)
    expect(json.services[0]).toMatchObject({ name: 'simpleservice', revision: 0, weights: { '0.9': 80, '1.0': 20 } })
  })

  it('weights, cutover --wait and rollback change the demo and say what they did', async () => {
    const weights = await cli('weights', 'simpleservice', '0.9=50', '1.0=50', '--reason', 'half')
    expect([weights.code, weights.stdout, weights.stderr]).toEqual([0, 'simpleservice: weights 0.9=50 1.0=50 (revision 1)\n', ''])

    const cutover = await cli('cutover', 'simpleservice', '1.0', '--drain', '5', '--wait')
    expect(cutover.code).toBe(0)
    expect(cutover.stdout).toBe(
      'simpleservice: cut over to 1.0 (revision 2); draining 0.9 for up to 5 s\n' +
        'simpleservice: drained: 0 of 0 in-flight requests completed, 0 cut\n',
    )

    const rollback = await cli('rollback', 'simpleservice')
    expect([rollback.code, rollback.stdout]).toEqual([0, 'simpleservice: rolled back revision 2; weights 0.9=50 1.0=50 (revision 3)\n'])

    const status = await cli('status', 'simpleservice')
    expect(status.stdout).toMatch(/\n {2}0\.9 +50 +50\.0% +- +- +3 of 3 live\n/)
    expect(status.stdout).toMatch(/\n {2}observed over the last \d+ of 60 s \(not judged for drift yet/)
    expect(status.stdout).toContain('cut-over to 1.0 (revision 2, from 0.9): drained; 0 of 0 in-flight requests completed, 0 cut')
    expect(status.stdout).toMatch(/last change: rollback at \S+, revision 3\n/)
  })

  const usage: { desc: string; args: string[]; code: number; message: RegExp }[] = [
    { desc: 'a weight that is not a number', args: ['weights', 'simpleservice', '0.9=abc'], code: 2, message: /bad weight "0\.9=abc"/ },
    { desc: 'no weights', args: ['weights', 'simpleservice'], code: 2, message: /Not enough non-option arguments/ },
    { desc: 'a group given twice', args: ['weights', 'simpleservice', '0.9=1', '0.9=2'], code: 2, message: /given twice/ },
    { desc: 'a negative drain', args: ['cutover', 'simpleservice', '1.0', '--drain', '-1'], code: 2, message: /--drain/ },
    { desc: 'an unknown service', args: ['weights', 'nope', '0.9=1'], code: 1, message: /unknown service "nope" \(404 unknown_service\)/ },
    { desc: 'an unknown group', args: ['weights', 'simpleservice', '2.0=1', '--others', '0'], code: 2, message: /unknown group 2\.0 \(groups: 0\.9, 1\.0\)/ },
    { desc: 'a group left out', args: ['weights', 'simpleservice', '0.9=1'], code: 2, message: /no weight for 1\.0: give every group \(0\.9, 1\.0\) or --others W/ },
    { desc: 'a mistyped command', args: ['stauts'], code: 2, message: /unknown command "stauts" \(did you mean status\?\)/ },
    { desc: 'a stale --if-match', args: ['rollback', 'simpleservice', '--if-match', '0'], code: 1, message: /\(412 revision_mismatch\)/ },
  ]
  for (const { desc, args, code, message } of usage) {
    it(`exits ${code} with one line on stderr for ${desc}`, async () => {
      const result = await cli(...args)
      expect(result.code).toBe(code)
      expect(result.stdout).toBe('')
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/^zdd-proxy: /)
      expect(result.stderr).toMatch(message)
    })
  }
})

describe('admin commands with a token', () => {
  it('take the token and the URL from the environment; without the token a change fails with 401', async () => {
    const service = await startSimpleService('0.9')
    const proxy = await startControlledProxy(
      controlConfig({ a: [service.address], b: [service.address] }, { a: 1, b: 1 }, { statePath: `${stateDir()}/state.json`, token: 'tok-123' }),
    )
    const env = { ZDD_ADMIN_URL: proxy.adminUrl }
    const refused = await runCli(['weights', 'svc', 'a=2', 'b=0'], { env })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/\(401 unauthorized\)\n$/)
    const accepted = await runCli(['weights', 'svc', 'a=2', '--others', '0'], { env: { ...env, ZDD_ADMIN_TOKEN: 'tok-123' } })
    expect([accepted.code, accepted.stdout]).toEqual([0, 'svc: weights a=2 b=0 (revision 1)\n'])
    const flag = await runCli(['rollback', 'svc', '--token', 'tok-123'], { env })
    expect(flag.code).toBe(0)
    // Reading needs no token unless the proxy sets admin.readToken.
    expect((await runCli(['status'], { env })).code).toBe(0)
  })

  it('cutover --wait shows the drain going and exits 3 when requests were cut at the deadline', async () => {
    // /health answers after 4 s: a request there is still running at a 1 s drain deadline.
    const slow = await startSimpleService('0.9', { HEALTH_MIN: '4000', HEALTH_MAX: '4001' })
    const other = await startSimpleService('1.0')
    const proxy = await startControlledProxy(
      controlConfig({ a: [slow.address], b: [other.address] }, { a: 1, b: 0 }, { statePath: `${stateDir()}/state.json` }),
    )
    const inFlight = fetch(`${proxy.url}/health`).then(
      (response) => response.status,
      () => -1,
    )
    // Wait until the proxy counts it in flight on group a.
    for (let waited = 0; ; waited += 50) {
      const view = (await (await fetch(`${proxy.adminUrl}/v1/services/svc`)).json()) as { groups: Array<{ instances: Array<{ inflight: number }> }> }
      if (view.groups[0]!.instances[0]!.inflight === 1) break
      if (waited > 5_000) throw new Error('the slow request never got in flight')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const result = await runCli(['cutover', 'svc', 'b', '--drain', '1', '--wait', '--admin', proxy.adminUrl], { timeoutMs: 20_000 })
    expect(result.code, result.stdout + result.stderr).toBe(3)
    const lines = result.stdout.trim().split('\n')
    expect(lines[0]).toBe('svc: cut over to b (revision 1); draining a for up to 1 s')
    expect(lines[1]).toMatch(/^svc: draining a: 1 requests in flight, deadline in [01] s$/)
    expect(lines.at(-1)).toBe('svc: deadline of 1 s reached: 0 of 1 in-flight requests completed, 1 cut')
    expect(result.stderr).toBe('zdd-proxy: 1 in-flight requests were cut at the drain deadline (raise --drain to let them finish)\n')
    expect(await inFlight).not.toBe(200)
  })

  it('says which address it could not reach', async () => {
    const result = await runCli(['status', '--admin', 'http://127.0.0.1:9'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^zdd-proxy: cannot reach the admin API at http:\/\/127\.0\.0\.1:9: connection refused/)
  })
})
