import { Agent, request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../../helpers/backend.js'
import { mesosRecords, startDnsmasq, type Dnsmasq, type MesosTask } from '../../helpers/dnsmasq.js'
import { startLoad } from '../../helpers/load.js'
import { runCli, startCli, stopAll, type Started } from '../../helpers/processes.js'
import { removeTempFiles, startProxyProcess, writeConfig } from '../../helpers/proxy.js'

const REFRESH_MAX_SECONDS = 2
/** The lookup interval of the empty-answers test. */
const REFRESH_SECONDS = 3
const agent = new Agent({ keepAliveTimeout: 1_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A proxy config with SRV groups a and b (Mesos-DNS names a-zdd, b-zdd) served by `dns`, looked up every 1–2 s (or every `refreshSeconds`). */
function srvConfig(dns: string, weights: Record<string, number>, refreshSeconds?: number) {
  return {
    dns: { servers: [dns], timeoutMs: 500, refreshMinSeconds: refreshSeconds ?? 1, refreshMaxSeconds: refreshSeconds ?? REFRESH_MAX_SECONDS },
    services: [
      {
        name: 'svc',
        listen: { host: '127.0.0.1', port: 0 },
        groups: [
          { name: 'a', srv: '_a-zdd._tcp.marathon.mesos' },
          { name: 'b', srv: '_b-zdd._tcp.marathon.mesos' },
        ],
        weights,
        exposeGroupHeader: true,
      },
    ],
  }
}

const tasks = (...backends: TestBackend[]): MesosTask[] => backends.map((backend) => ({ port: backend.port }))

/** Polls `condition` every 50 ms; fails after `withinMs`. Returns the time it took. */
async function waitUntil(condition: () => boolean, withinMs: number, what: string): Promise<number> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`)
    await sleep(50)
  }
  return Date.now() - started
}

const hitsOf = (backend: TestBackend) => backend.hits.get('/') ?? 0

describe('proxy with DNS SRV discovery (dnsmasq)', () => {
  const backends: TestBackend[] = []
  let dnsmasq: Dnsmasq | undefined

  afterEach(async () => {
    await stopAll()
    await dnsmasq?.stop()
    dnsmasq = undefined
  })

  afterAll(async () => {
    await agent.close()
    await Promise.all(backends.map((backend) => backend.close()))
    removeTempFiles()
  })

  const backend = async (name: string) => {
    const started = await startBackend(name)
    backends.push(started)
    return started
  }

  it('splits 1000 clients over Mesos-DNS published simpleservice instances (0.9 x3, 1.0 x1)', async () => {
    const start = (version: string): Promise<Started> =>
      startCli(['simpleservice'], {
        env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1' },
        waitFor: /listening on port (\d+)/,
      })
    const instances = await Promise.all([start('0.9'), start('0.9'), start('0.9'), start('1.0')])
    const ports = instances.map((instance) => ({ port: Number(instance.match[1]) }))
    dnsmasq = await startDnsmasq(mesosRecords({ 'a-zdd': ports.slice(0, 3), 'b-zdd': ports.slice(3) }))
    const config = srvConfig(dnsmasq.server, { a: 80, b: 20 })
    config.services[0]!.groups = [
      { name: '0.9', srv: '_a-zdd._tcp.marathon.mesos' },
      { name: '1.0', srv: '_b-zdd._tcp.marathon.mesos' },
    ]
    ;(config.services[0] as { weights: Record<string, number> }).weights = { '0.9': 80, '1.0': 20 }
    const proxy = await startProxyProcess(config)
    // Fixed cookie ids: the split is deterministic (no per-process hash seed), so this never flakes.
    const identities = writeConfig({
      format: 'zdd-canary-identities/1',
      clients: Array.from({ length: 1000 }, (_, i) => ({
        id: `c${i}`,
        version: null,
        cookies: [{ name: 'zdd_client', value: `srv-client-${i}` }],
      })),
    })
    const result = await runCli(['canary-check', proxy.url, '--identities', identities, '--json'])
    const report = JSON.parse(result.stdout) as { versions: Record<string, number>; errors: number }
    expect(report.errors).toBe(0)
    expect(Math.abs((report.versions['1.0'] ?? 0) / 1000 - 0.2)).toBeLessThanOrEqual(0.04)
    expect(Math.abs((report.versions['0.9'] ?? 0) / 1000 - 0.8)).toBeLessThanOrEqual(0.04)
  })

  it('follows instance changes and DNS outages under load with no failed request', async () => {
    const [a1, a2, a3, a4, b1, b2] = await Promise.all(['a1', 'a2', 'a3', 'a4', 'b1', 'b2'].map(backend))
    dnsmasq = await startDnsmasq(mesosRecords({ 'a-zdd': tasks(a1!, a2!), 'b-zdd': tasks(b1!) }))
    const proxy = await startProxyProcess(srvConfig(dnsmasq.server, { a: 50, b: 50 }))
    const load = startLoad({ url: `${proxy.url}/`, connections: 4, overallRate: 200, duration: 45 })
    const inUseWithin = (REFRESH_MAX_SECONDS + 1) * 1000

    // Add an instance: it receives traffic within refreshMaxSeconds + 1 s.
    await dnsmasq.setRecords(mesosRecords({ 'a-zdd': tasks(a1!, a2!, a3!), 'b-zdd': tasks(b1!) }))
    await waitUntil(() => hitsOf(a3!) > 0, inUseWithin, 'added instance a3 in use')

    // Remove one: after refreshMaxSeconds + 1 s it gets nothing new.
    await dnsmasq.setRecords(mesosRecords({ 'a-zdd': tasks(a2!, a3!), 'b-zdd': tasks(b1!) }))
    await sleep(inUseWithin)
    const a1Hits = hitsOf(a1!)
    await sleep(1_000)
    expect(hitsOf(a1!)).toBe(a1Hits)

    // Swap the whole set.
    await dnsmasq.setRecords(mesosRecords({ 'a-zdd': tasks(a4!), 'b-zdd': tasks(b2!) }))
    await waitUntil(() => hitsOf(a4!) > 0 && hitsOf(b2!) > 0, inUseWithin, 'swapped set in use')
    await sleep(inUseWithin)
    const oldHits = [a2, a3, b1].map((old) => hitsOf(old!))
    await sleep(1_000)
    expect([a2, a3, b1].map((old) => hitsOf(old!))).toEqual(oldHits)

    // DNS down for longer than two refresh periods: the last known instances keep serving.
    await dnsmasq.stop()
    const during = hitsOf(a4!) + hitsOf(b2!)
    await sleep(REFRESH_MAX_SECONDS * 2_500)
    expect(hitsOf(a4!) + hitsOf(b2!)).toBeGreaterThan(during)
    await dnsmasq.start()
    await sleep(inUseWithin)

    load.stop()
    const result = await load.result
    expect(result.errors).toBe(0)
    expect(result.timeouts).toBe(0)
    expect(result.non2xx).toBe(0)
    expect(result.requests.total).toBeGreaterThan(1_000)
    expect(proxy.output()).toMatch(/"event":"discovery_error"/)
  })

  it('keeps a group through one empty answer and empties it after three; its share goes to the others', async () => {
    const [a1, b1] = await Promise.all(['a1', 'b1'].map(backend))
    const both = mesosRecords({ 'a-zdd': tasks(a1!), 'b-zdd': tasks(b1!) })
    const onlyA = mesosRecords({ 'a-zdd': tasks(a1!) })
    dnsmasq = await startDnsmasq(both)
    // Lookups 3 s apart: the records are back (a dnsmasq restart) well before the next one.
    const proxy = await startProxyProcess(srvConfig(dnsmasq.server, { a: 50, b: 50 }, REFRESH_SECONDS))
    const groupsOf = async (count: number) => {
      const seen = new Map<string, number>()
      for (let i = 0; i < count; i++) {
        const response = await request(`${proxy.url}/`, { dispatcher: agent })
        await response.body.dump()
        const group = `${response.statusCode} ${response.headers['x-zdd-group']}`
        seen.set(group, (seen.get(group) ?? 0) + 1)
      }
      return seen
    }

    // Waited for from before the change: the proxy may log it before setRecords returns.
    const firstEmpty = proxy.waitForLine(/"event":"discovery_error"[^\n]*"group":"b"[^\n]*"kind":"empty"[^\n]*"consecutive":1/, 10_000)
    await dnsmasq.setRecords(onlyA)
    await firstEmpty
    await dnsmasq.setRecords(both)
    await sleep(REFRESH_SECONDS * 1000 + 500)
    expect(proxy.output()).not.toMatch(/"group":"b"[^\n]*"kind":"empty"[^\n]*"consecutive":2/)
    // 200 random new clients at 50/50: b is still there (P(no b) = 2^-200).
    expect((await groupsOf(200)).get('200 b')).toBeGreaterThan(0)

    const thirdEmpty = proxy.waitForLine(/"event":"discovery_error"[^\n]*"group":"b"[^\n]*"kind":"empty"[^\n]*"consecutive":3/, 20_000)
    await dnsmasq.setRecords(onlyA)
    await thirdEmpty
    await sleep(200)
    expect(await groupsOf(100)).toEqual(new Map([['200 a', 100]]))
  })

  it('starts with DNS down and serves once DNS answers, without a restart', async () => {
    const [a1] = await Promise.all(['a1'].map(backend))
    dnsmasq = await startDnsmasq(mesosRecords({ 'a-zdd': tasks(a1!), 'b-zdd': tasks(a1!) }))
    await dnsmasq.stop()
    const proxy = await startProxyProcess({
      ...srvConfig(dnsmasq.server, { a: 50, b: 50 }),
      admin: { host: '127.0.0.1', port: 0 },
    })
    const adminLine = /"event":"admin_listening"[^\n]*"port":(\d+)/
    await waitUntil(() => adminLine.test(proxy.output()), 5_000, 'admin listening')
    const adminPort = Number(proxy.output().match(adminLine)![1])
    const readyz = async () => {
      const response = await request(`http://127.0.0.1:${adminPort}/readyz`, { dispatcher: agent })
      return { status: response.statusCode, body: (await response.body.json()) as { reasons?: string[] } }
    }
    const notReady = await readyz()
    expect(notReady.status).toBe(503)
    expect(notReady.body.reasons?.join('\n')).toMatch(/group a: SRV _a-zdd\._tcp\.marathon\.mesos not resolved yet/)
    const first = await request(`${proxy.url}/`, { dispatcher: agent })
    expect(first.statusCode).toBe(503)
    expect(((await first.body.json()) as { error: { code: string } }).error.code).toBe('no_live_instance')
    await dnsmasq.start()
    let status = 0
    const deadline = Date.now() + (REFRESH_MAX_SECONDS + 3) * 1000
    while (status !== 200 && Date.now() < deadline) {
      const response = await request(`${proxy.url}/`, { dispatcher: agent })
      await response.body.dump()
      status = response.statusCode
      if (status !== 200) await sleep(200)
    }
    expect(status).toBe(200)
    expect((await readyz()).status).toBe(200)
    const metrics = await request(`http://127.0.0.1:${adminPort}/metrics`, { dispatcher: agent })
    expect(await metrics.body.text()).toMatch(/zdd_discovery_errors_total\{service="svc",group="a",kind="error"\} [1-9]/)
    // Stopping leaves no timer or socket behind: the process ends by itself, without forcing.
    expect(await proxy.stop('SIGTERM', 15_000)).toBe(0)
    expect(proxy.output()).not.toMatch(/exit_forced/)
  })
})
