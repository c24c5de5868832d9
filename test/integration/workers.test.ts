/** `serve --workers 2`: the data plane in two worker processes fed the primary's snapshots. */

import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { startLoad } from '../helpers/load.js'
import { outputMatch, startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, writeConfig } from '../helpers/proxy.js'
import { binomialBand } from '../helpers/binomial.js'
import { admin, agent, controlConfig, openEvents, stateDir } from './control-helpers.js'

/** New clients per split sample. */
const SAMPLE = 200
/**
 * The 50/50 sample accepts the count of group `b` within the exact binomial band whose tails hold
 * at most 1e-6 / 2 each: a fresh cookie id lands in `b` with probability 1/2, so a correct build
 * fails this check with probability <= 1e-6. The 100/0 flips are exact (any stray answer fails).
 */
const DELTA = 1e-6

/** 200 answers received through the proxy so far (what the primary's metrics must count). */
let answered200 = 0

interface Answer {
  readonly status: number
  readonly group: string
  readonly body: string
}

/**
 * One GET on a connection of its own, without cookies: a new client, and a new connection the
 * primary hands to the next worker in turn (so both workers answer a sample).
 */
function freshGet(url: string, signal?: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close' }, signal }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => {
        if (res.statusCode === 200) answered200++
        resolve({ status: res.statusCode!, group: String(res.headers['x-zdd-group'] ?? ''), body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** `count` fresh-connection GETs, 4 at a time; answers per group and non-200 answers. */
async function sample(url: string, count: number): Promise<{ groups: Map<string, number>; failures: number }> {
  const groups = new Map<string, number>()
  let failures = 0
  let next = 0
  const run = async () => {
    while (next < count) {
      next++
      const answer = await freshGet(url)
      if (answer.status !== 200) failures++
      groups.set(answer.group, (groups.get(answer.group) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: 4 }, run))
  return { groups, failures }
}

/** Sum of `zdd_requests_total{service="svc",code="200"}` over groups, from the primary's `/metrics`. */
async function served(adminUrl: string): Promise<number> {
  const text = (await admin(adminUrl, 'GET', '/metrics')).json as string
  let total = 0
  for (const match of text.matchAll(/^zdd_requests_total\{[^}]*service="svc"[^}]*code="200"[^}]*\} (\d+)$/gm)) total += Number(match[1])
  return total
}

/** Polls `check` every 50 ms until it holds (bounded); returns whether it did. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}

/** PIDs listed by every log line of `event` (`workers_ready`, `workers_restarted`). */
function pidLists(output: string, event: string): number[][] {
  return [...output.matchAll(new RegExp(`"event":"${event}"[^\\n]*"pids":\\[([\\d,]*)\\]`, 'g'))].map((match) => match[1]!.split(',').map(Number))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('serve --workers 2', () => {
  let backends: TestBackend[]
  let proxy: Started
  let url: string
  let adminUrl: string

  beforeAll(async () => {
    backends = await Promise.all(['a1', 'a2', 'b1'].map((name) => startBackend(name)))
    const [a1, a2, b1] = backends as [TestBackend, TestBackend, TestBackend]
    const config = controlConfig(
      { a: [a1.address, a2.address], b: [b1.address] },
      { a: 50, b: 50 },
      { statePath: `${stateDir()}/state.json`, service: { drainSeconds: 10 } },
    )
    proxy = await startCli(['serve', '--config', writeConfig(config), '--workers', '2'], { waitFor: /"event":"workers_ready"/ })
    const output = proxy.output()
    url = `http://127.0.0.1:${/"event":"listening"[^\n]*"port":(\d+)/.exec(output)![1]}`
    // The admin listener opens after the workers are ready: its line may come a moment later.
    adminUrl = `http://127.0.0.1:${(await outputMatch(proxy, /"event":"admin_listening"[^\n]*"port":(\d+)/))[1]}`
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await Promise.all(backends.map((backend) => backend.close()))
    removeTempFiles()
  })

  it('splits new clients over both groups, and weight changes reach both workers', async () => {
    const split = await sample(`${url}/`, SAMPLE)
    const [lo, hi] = binomialBand(SAMPLE, 0.5, DELTA)
    expect(split.failures).toBe(0)
    expect((split.groups.get('a') ?? 0) + (split.groups.get('b') ?? 0)).toBe(SAMPLE)
    expect(split.groups.get('b') ?? 0).toBeGreaterThanOrEqual(lo)
    expect(split.groups.get('b') ?? 0).toBeLessThanOrEqual(hi)

    // Each flip is pushed before the admin answer; a new connection reaches its worker after it.
    for (const [weights, only] of [[{ a: 100, b: 0 }, 'a'], [{ a: 0, b: 100 }, 'b']] as const) {
      expect((await admin(adminUrl, 'PUT', '/v1/services/svc/weights', { weights })).status).toBe(200)
      const flipped = await sample(`${url}/`, 40)
      expect(flipped.failures).toBe(0)
      expect([...flipped.groups]).toEqual([[only, 40]])
    }
  })

  it("counts the workers' requests in the primary's /metrics", async () => {
    await sample(`${url}/`, 30)
    // Workers report every ~250 ms; the total settles at exactly every 200 answer so far.
    expect(answered200).toBeGreaterThanOrEqual(SAMPLE + 80 + 30)
    expect(await eventually(async () => (await served(adminUrl)) === answered200)).toBe(true)
    // The dashboard's series samples the same sums: once sampled, its window holds every answer.
    const inSeries = async () => {
      const series = (await admin(adminUrl, 'GET', '/v1/services/svc/series')).json
      return series.groups.reduce((sum: number, group: { window: { requests: number } }) => sum + group.window.requests, 0) === answered200
    }
    expect(await eventually(inSeries)).toBe(true)
  })

  /** Sends `/slow/MS` to group a (all weight on a), waits until the primary sees it running, cuts over to b. */
  async function cutoverDuringSlowRequest(slowMs: number, drainSeconds: number, signal?: AbortSignal) {
    expect((await admin(adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { a: 100, b: 0 } })).status).toBe(200)
    const events = await openEvents(adminUrl)
    const slow = freshGet(`${url}/slow/${slowMs}`, signal)
    slow.catch(() => {})
    const runningOnA = async () => {
      const view = (await admin(adminUrl, 'GET', '/v1/services/svc')).json
      const a = view.groups.find((group: { name: string }) => group.name === 'a')
      return a.instances.reduce((sum: number, instance: { inflight: number }) => sum + instance.inflight, 0) === 1
    }
    try {
      // The worker's report makes the request visible in the primary's status.
      expect(await eventually(runningOnA)).toBe(true)
      const cutover = await admin(adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'b', drainSeconds })
      expect(cutover.status).toBe(200)
      expect(cutover.json.drain).toMatchObject({ phase: 'draining', inflight: 1 })
      // Status marks the drained group's instances while the drain runs.
      const draining = cutover.json.service.groups.map((group: { name: string; instances: { draining: boolean }[] }) => [group.name, group.instances.map((instance) => instance.draining)])
      expect(draining).toEqual([['a', [true, true]], ['b', [false]]])
      const completed = await events.waitFor('cutover_completed', (event) => event.data.revision === cutover.json.revision)
      return { completed: completed.data, slow }
    } finally {
      events.close()
    }
  }

  it("completes a cut-over only once the old group's request running in a worker has finished", async () => {
    const { completed, slow } = await cutoverDuringSlowRequest(1_500, 10)
    // Drained with the request counted as completed: the worker's old pool was empty when it fired.
    expect(completed).toMatchObject({ outcome: 'drained', inflightAtStart: 1, completed: 1, cut: 0 })
    const answer = await slow
    expect(answer).toMatchObject({ status: 200, group: 'a' })
    expect(answer.body).toMatch(/^slow a[12]$/)
  })

  it("cuts the worker's old connections at the drain deadline", async () => {
    const client = new AbortController()
    // The worker destroys its old pool: the request running on it fails there.
    const destroyed = proxy.waitForLine(/"worker":\d+,"event":"upstream_failure"[^\n]*"err":"The client is destroyed"/)
    const { completed, slow } = await cutoverDuringSlowRequest(5_000, 1, client.signal)
    expect(completed).toMatchObject({ outcome: 'deadline', inflightAtStart: 1, completed: 0, cut: 1 })
    await destroyed
    // What the proxy does with the cut request (a retry elsewhere) is not this test's concern.
    client.abort()
    await slow.catch(() => {})
  })

  it('restarts the workers one at a time on SIGUSR2 under saturating load: no error, no non-2xx', async () => {
    const before = pidLists(proxy.output(), 'workers_ready')[0]!
    expect(before).toHaveLength(2)
    // Closed loop, as fast as the proxy answers: each connection writes its next request the moment
    // a response arrives (autocannon ignores `Connection: close`), so the old workers close busy
    // connections. `duration` only bounds the load; it is stopped after the second restart.
    const load = startLoad({ url: `${url}/`, connections: 32, duration: 60 })
    try {
      for (let round = 1; round <= 2; round++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000))
        const restarted = proxy.waitForLine(/"event":"workers_restarted"/, 20_000)
        proxy.child.kill('SIGUSR2')
        await restarted
      }
      // Some load on the new workers too.
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    } finally {
      load.stop()
    }
    const result = await load.result
    expect(result.requests.total).toBeGreaterThan(0)
    expect(result.errors).toBe(0)
    expect(result.timeouts).toBe(0)
    expect(result.non2xx).toBe(0)
    const after = pidLists(proxy.output(), 'workers_restarted')
    expect(after).toHaveLength(2)
    const final = after[1]!
    expect(final).toHaveLength(2)
    for (const pid of [...before, ...after[0]!]) expect(final).not.toContain(pid)
    for (const pid of before) expect(alive(pid)).toBe(false)
  })

  it('replaces a worker that dies', async () => {
    const [victim] = pidLists(proxy.output(), 'workers_restarted').at(-1)!
    const replaced = proxy.waitForLine(/"event":"worker_exited"[^\n]*"signal":"SIGKILL"[^\n]*replacing[\s\S]*"event":"worker_listening"/)
    process.kill(victim!, 'SIGKILL')
    await replaced
    const answers = await sample(`${url}/`, 20)
    expect(answers.failures).toBe(0)
  })

  it('stops on SIGTERM with exit 0 and leaves no worker behind', async () => {
    const output = proxy.output()
    const pidsOf = (event: string) => [...output.matchAll(new RegExp(`"event":"${event}"[^\\n]*"workerPid":(\\d+)`, 'g'))].map((match) => Number(match[1]))
    const exited = new Set(pidsOf('worker_exited'))
    const workers = pidsOf('worker_started').filter((pid) => !exited.has(pid))
    expect(workers).toHaveLength(2)
    expect(workers.every(alive)).toBe(true)
    expect(await proxy.stop('SIGTERM')).toBe(0)
    for (const pid of workers) expect(alive(pid)).toBe(false)
  })
})
