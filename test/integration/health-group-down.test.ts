/**
 * Zero failed requests when instances, or a whole version group, fail under 300 GET/s: an ejected
 * instance is back at its first passing check, an instance that refuses connections is let go
 * whatever the panic guard counts, and a group without a live instance hands its requests to the
 * other group (redispatch) until it is back, keeping each client's sticky cookie.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { allIn, waitForStates } from '../helpers/health-log.js'
import { restartablePorts } from '../helpers/ports.js'
import { runCli, startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess } from '../helpers/proxy.js'

function startInstance(version: string, port = 0): Promise<Started> {
  return startCli(['simpleservice'], {
    env: { PORT0: String(port), HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1' },
    waitFor: /listening on port (\d+)/,
  })
}

const portOf = (instance: Started) => Number(instance.match[1])
const addressOf = (instance: Started) => `127.0.0.1:${portOf(instance)}`

/** 0.9 and 1.0, two instances each, Marathon checks every second (two failures: unhealthy), two retries. */
function config(addresses: readonly string[], weights: Record<string, number>) {
  return {
    admin: { host: '127.0.0.1', port: 0 },
    services: [
      {
        name: 'simpleservice',
        listen: { host: '127.0.0.1', port: 0 },
        groups: [
          { name: '0.9', instances: addresses.slice(0, 2) },
          { name: '1.0', instances: addresses.slice(2) },
        ],
        weights,
        healthChecks: [{ protocol: 'HTTP', path: '/health', gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2, delaySeconds: 0 }],
        retries: 2,
        timeouts: { connectMs: 1_000, headersMs: 1_500, idleMs: 5_000 },
        exposeGroupHeader: true,
        drainSeconds: 2,
      },
    ],
  }
}

/** Each stored client's version, from canary-check's identities file. */
function versionsIn(file: string): Map<string, string | null> {
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { clients: { id: string; version: string | null }[] }
  return new Map(stored.clients.map((client) => [client.id, client.version]))
}

describe('instances and groups failing under 300 GET/s', () => {
  const dirs: string[] = []
  afterEach(async () => {
    await stopAll()
    removeTempFiles()
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it('kill one 0.9, freeze one 1.0 for 7 s, then terminate the other 1.0: no failed request', async () => {
    const instances = await Promise.all(['0.9', '0.9', '1.0', '1.0'].map((version) => startInstance(version)))
    const addresses = instances.map(addressOf)
    const proxy = await startProxyProcess(config(addresses, { '0.9': 50, '1.0': 50 }))
    await waitForStates(proxy.output, allIn(addresses, 'healthy'), 10_000, 'all instances healthy')
    const [, , frozen, other] = instances as [Started, Started, Started, Started]
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 300, durationMs: 16_000 })
    await sleep(1_500)
    await instances[0]!.stop('SIGKILL')
    await sleep(1_000)
    frozen.child.kill('SIGSTOP')
    await sleep(7_000)
    frozen.child.kill('SIGCONT')
    await sleep(3_000)
    expect(await other.stop('SIGTERM')).toBe(0)
    const records = await load
    expect(failuresOf(records)).toEqual([])
    expect(records.length).toBeGreaterThan(4_000)
    // The frozen instance came back while its sibling was still up, and carried 1.0 after it left.
    await waitForStates(proxy.output, allIn([addresses[2]!], 'healthy'), 5_000, 'the frozen instance back')
  })

  it("the whole canary group killed, back 5 s later: no failed GET; its clients use 0.9 meanwhile and are back on 1.0 within 3 s of its return", async () => {
    // The canary comes back on its ports: ports an outgoing connection cannot be given meanwhile.
    const canaryPorts = await restartablePorts(2)
    const instances = await Promise.all([0, 0, ...canaryPorts].map((port, i) => startInstance(i < 2 ? '0.9' : '1.0', port)))
    const addresses = instances.map(addressOf)
    const proxy = await startProxyProcess(config(addresses, { '0.9': 80, '1.0': 20 }))
    await waitForStates(proxy.output, allIn(addresses, 'healthy'), 10_000, 'all instances healthy')
    const dir = mkdtempSync(join(tmpdir(), 'zdd-identities-'))
    dirs.push(dir)
    const identities = join(dir, 'identities.json')
    const check = async () => {
      const run = await runCli(['canary-check', proxy.url, '200', '--identities', identities, '--json'])
      expect(run.code).toBe(0)
      return { report: JSON.parse(run.stdout) as { errors: number; versions: Record<string, number> }, versions: versionsIn(identities) }
    }
    const before = await check()
    const canaryClients = [...before.versions].filter(([, version]) => version === '1.0').map(([id]) => id)
    // About 40 of 200 clients; a correct build has none here with probability 0.8^200 (< 1e-19).
    expect(canaryClients.length).toBeGreaterThan(0)

    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 300, durationMs: 13_000 })
    await sleep(1_500)
    await Promise.all(instances.slice(2).map((instance) => instance.stop('SIGKILL')))
    await sleep(2_000)
    const during = await check()
    expect(during.report.errors).toBe(0)
    expect(during.report.versions).toEqual({ '0.9': 200 })
    await sleep(3_000)
    await Promise.all(canaryPorts.map((port) => startInstance('1.0', port)))
    const returnedAt = Date.now()
    let backAt: number | undefined
    while (backAt === undefined && Date.now() - returnedAt < 6_000) {
      // Timed from the start of the check that found them back: a check itself takes a while.
      const checkedAt = Date.now()
      const after = await check()
      expect(after.report.errors).toBe(0)
      if (canaryClients.every((id) => after.versions.get(id) === '1.0')) backAt = checkedAt
    }
    expect(backAt, 'the canary clients are back on 1.0').toBeDefined()
    expect(backAt! - returnedAt).toBeLessThanOrEqual(3_000)
    const records = await load
    expect(failuresOf(records)).toEqual([])
    // Redispatches were counted, and logged once for the episode, not per request.
    const adminPort = /"event":"admin_listening"[^\n]*"port":(\d+)/.exec(proxy.output())![1]
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
    const redispatched = /^zdd_redispatched_total\{service="simpleservice",from="1\.0",to="0\.9"\} (\d+)$/m.exec(metrics)
    expect(Number(redispatched?.[1] ?? 0)).toBeGreaterThan(100)
    expect(proxy.output().match(/"event":"redispatch"/g)?.length ?? 0).toBeGreaterThanOrEqual(1)
    expect(proxy.output().match(/"event":"redispatch"/g)?.length ?? 0).toBeLessThanOrEqual(3)
  })
})
