import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { allIn, healthChanges, statesOf, waitForStates } from '../helpers/health-log.js'
import { startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess } from '../helpers/proxy.js'

function startInstance(version: string, env: Record<string, string> = {}): Promise<Started> {
  return startCli(['simpleservice'], {
    env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1', ...env },
    waitFor: /listening on port (\d+)/,
  })
}

const addressOf = (instance: Started) => `127.0.0.1:${instance.match[1]}`

/** A backend whose /health answers 503 until `ready` is set; counts the other requests it serves. */
async function startToggleBackend(): Promise<{ server: Server; address: string; ready: boolean; served: number }> {
  const state = { server: undefined as unknown as Server, address: '', ready: false, served: 0 }
  state.server = createServer((req, res) => {
    if (req.url === '/health') {
      res.statusCode = state.ready ? 200 : 503
      res.end()
      return
    }
    state.served++
    res.setHeader('content-type', 'application/json')
    res.end('{"version": "toggle"}')
  })
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve))
  state.address = `127.0.0.1:${(state.server.address() as AddressInfo).port}`
  return state
}

function service(groups: Record<string, string[]>, extra: Record<string, unknown>) {
  return {
    services: [
      {
        name: 'svc',
        listen: { host: '127.0.0.1', port: 0 },
        groups: Object.entries(groups).map(([name, instances]) => ({ name, instances })),
        exposeGroupHeader: true,
        ...extra,
      },
    ],
  }
}

describe('active health and readiness checks gate traffic', () => {
  const servers: Server[] = []

  afterAll(async () => {
    await stopAll()
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    removeTempFiles()
  })

  it("the lab's health-check scenario: only instances that passed a check get traffic; states in the log", async () => {
    // The lab's /zdd/base-health: HEALTH_MIN=1000 HEALTH_MAX=5000 with timeoutSeconds 4, so about a
    // quarter of all checks fail. One more instance always answers too late and never passes.
    const lab = await Promise.all(['0.9.1', '0.9.2', '0.9.3', '0.9.4'].map((version) => startInstance(version, { HEALTH_MIN: '1000', HEALTH_MAX: '5000' })))
    const late = await startInstance('late', { HEALTH_MIN: '4500', HEALTH_MAX: '5000' })
    const versionOf = new Map([...lab, late].map((instance) => [addressOf(instance), instance === late ? 'late' : `0.9.${lab.indexOf(instance) + 1}`]))
    const proxy = await startProxyProcess(
      service(
        { base: [...lab, late].map(addressOf) },
        {
          healthChecks: [
            { protocol: 'HTTP', path: '/health', gracePeriodSeconds: 300, intervalSeconds: 2, timeoutSeconds: 4, maxConsecutiveFailures: 3, ignoreHttp1xx: false, delaySeconds: 0 },
          ],
        },
      ),
    )
    // Each instance gets a check at least every 4 s; three checks in 12 s. P(no lab instance passes
    // any of them) = 0.25^12 < 1e-7.
    const records = await constantLoad({ url: `${proxy.url}/endpoint0`, rps: 40, durationMs: 12_000 })
    const changes = healthChanges(proxy.output())
    const healthySince = new Map<string, number>()
    for (const change of changes) if (change.to === 'healthy' && !healthySince.has(change.instance)) healthySince.set(change.instance, change.time)
    const served = records.filter((record) => record.status === 200)
    expect(served.length).toBeGreaterThan(0)
    for (const record of served) {
      const version = (JSON.parse(record.body) as { version: string }).version
      const address = [...versionOf].find(([, v]) => v === version)![0]
      // Answered by an instance only after the log said it became healthy.
      expect(record.endedAt).toBeGreaterThanOrEqual(healthySince.get(address) ?? Infinity)
    }
    expect(served.some((record) => record.body.includes('"late"'))).toBe(false)
    // Before any instance passed, the proxy answered 503 naming the service.
    for (const record of records.filter((r) => r.status !== 200)) expect(record.body).toContain('no_live_instance')
    // States visible in the log: every lab instance starts as starting and the late one stays there.
    expect(statesOf(proxy.output()).get(addressOf(late))).toBeUndefined()
    expect(changes.every((change) => change.from !== undefined && change.reason.length > 0)).toBe(true)
    expect(changes.some((change) => change.from === 'starting' && change.to === 'healthy' && change.reason === 'health check passed (200)')).toBe(true)
  }, 40_000)

  it('a new instance that is not ready gets 0 requests until its readiness check passes', async () => {
    const instances = await Promise.all(['0.9', '0.9', '1.0'].map((version) => startInstance(version)))
    const fresh = await startToggleBackend()
    servers.push(fresh.server)
    const addresses = instances.map(addressOf)
    const proxy = await startProxyProcess(
      service(
        { '0.9': addresses.slice(0, 2), '1.0': [addresses[2]!, fresh.address] },
        { readinessChecks: [{ protocol: 'HTTP', path: '/health', intervalSeconds: 1, timeoutSeconds: 1, httpStatusCodesForReady: [200] }] },
      ),
    )
    await waitForStates(proxy.output, allIn(addresses, 'healthy'), 10_000, 'ready instances healthy')
    const before = await constantLoad({ url: `${proxy.url}/endpoint0`, rps: 50, durationMs: 3_000 })
    expect(failuresOf(before)).toEqual([])
    expect(fresh.served).toBe(0)
    expect(statesOf(proxy.output()).get(fresh.address)).toBeUndefined()

    fresh.ready = true
    await waitForStates(proxy.output, allIn([fresh.address], 'healthy'), 5_000, 'fresh instance ready')
    const change = healthChanges(proxy.output()).find((c) => c.instance === fresh.address)!
    expect(change).toMatchObject({ from: 'starting', to: 'healthy', reason: 'readiness check readinessCheck passed (status 200)' })
    // Group 1.0 gets half of 150 requests and P2C splits them between two instances:
    // P(the fresh one gets none) is far below 1e-6.
    const after = await constantLoad({ url: `${proxy.url}/endpoint0`, rps: 50, durationMs: 3_000 })
    expect(failuresOf(after)).toEqual([])
    expect(fresh.served).toBeGreaterThan(0)
  })
})
