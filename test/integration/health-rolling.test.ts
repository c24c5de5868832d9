import { afterAll, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { mesosRecords, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js'
import { allIn, waitForStates } from '../helpers/health-log.js'
import { startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess } from '../helpers/proxy.js'

/** Mesos-DNS's name for the lab's Marathon app /zdd/base-min-over. */
const APP = 'base-min-over-zdd'

/** The lab app's env: every /health answer takes 1 to 5 s. */
function startInstance(version: string): Promise<Started> {
  return startCli(['simpleservice'], {
    env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1', HEALTH_MIN: '1000', HEALTH_MAX: '5000' },
    waitFor: /listening on port (\d+)/,
  })
}

const portOf = (instance: Started) => Number(instance.match[1])
const addressOf = (instance: Started) => `127.0.0.1:${portOf(instance)}`

describe("the lab's rolling upgrade (base-min-over: minimumHealthCapacity 0.25, maximumOverCapacity 0.25)", () => {
  let dnsmasq: Dnsmasq | undefined

  afterAll(async () => {
    await stopAll()
    await dnsmasq?.stop()
    removeTempFiles()
  })

  it('replaces 4 instances of 0.9 by 4 of 1.0 one by one under load with 0 failed requests', async () => {
    const old = await Promise.all([0, 1, 2, 3].map(() => startInstance('0.9')))
    const current = [...old]
    const publish = () => dnsmasq!.setRecords(mesosRecords({ [APP]: current.map((instance) => ({ port: portOf(instance) })) }))
    dnsmasq = await startDnsmasq(mesosRecords({ [APP]: current.map((instance) => ({ port: portOf(instance) })) }))
    const proxy = await startProxyProcess({
      dns: { servers: [dnsmasq.server], timeoutMs: 500, refreshMinSeconds: 1, refreshMaxSeconds: 1 },
      services: [
        {
          name: 'base-min-over',
          listen: { host: '127.0.0.1', port: 0 },
          groups: [{ name: 'base', srv: `_${APP}._tcp.marathon.mesos` }],
          // The lab's blocks (default/base-min-over.json, default/base-ready.json), checked at once
          // rather than after Marathon's default delaySeconds of 15.
          healthChecks: [
            { protocol: 'HTTP', path: '/health', gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, ignoreHttp1xx: false, delaySeconds: 0 },
          ],
          readinessChecks: [
            { protocol: 'HTTP', path: '/health', portName: 'main-api', intervalSeconds: 30, timeoutSeconds: 10, httpStatusCodesForReady: [200] },
          ],
          drainSeconds: 10,
        },
      ],
    })
    await waitForStates(proxy.output, allIn(old.map(addressOf), 'healthy'), 20_000, 'old instances healthy')

    let done = false
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 40, durationMs: 80_000, shouldStop: () => done })
    let upgradedAt = 0
    try {
      for (const previous of old) {
        // Start one new instance (maximumOverCapacity 0.25 of 4), wait until it takes traffic.
        const fresh = await startInstance('1.0')
        current.push(fresh)
        await publish()
        await waitForStates(proxy.output, allIn([addressOf(fresh)], 'healthy'), 20_000, `new instance ${addressOf(fresh)} healthy`)
        // Remove an old one from DNS; once the proxy drains it, stop it.
        current.splice(current.indexOf(previous), 1)
        await publish()
        await waitForStates(proxy.output, allIn([addressOf(previous)], 'draining'), 10_000, `old instance ${addressOf(previous)} draining`)
        expect(await previous.stop('SIGTERM')).toBe(0)
      }
      upgradedAt = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    } finally {
      done = true
    }
    const records = await load
    expect(failuresOf(records)).toEqual([])
    expect(records.length).toBeGreaterThan(200)
    const versions = (from: number, to: number) =>
      new Set(records.filter((r) => r.endedAt >= from && r.endedAt < to).map((r) => (JSON.parse(r.body) as { version: string }).version))
    expect(versions(0, records[0]!.endedAt + 500)).toEqual(new Set(['0.9']))
    expect(versions(upgradedAt, Infinity)).toEqual(new Set(['1.0']))
  }, 120_000)
})
