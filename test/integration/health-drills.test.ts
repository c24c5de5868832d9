import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { allIn, healthChanges, waitForStates } from '../helpers/health-log.js'
import { startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess, type StartedProxy } from '../helpers/proxy.js'

/**
 * Fault drills (issue: health, readiness and outlier ejection): constant GET load through the proxy
 * to 4 simpleservice instances in 2 groups; one instance is killed, terminated or frozen mid-load.
 */

const HEADERS_MS = 1_500

function startInstance(version: string): Promise<Started> {
  return startCli(['simpleservice'], {
    env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1' },
    waitFor: /listening on port (\d+)/,
  })
}

const addressOf = (instance: Started) => `127.0.0.1:${instance.match[1]}`

function drillConfig(addresses: readonly string[]) {
  return {
    services: [
      {
        name: 'svc',
        listen: { host: '127.0.0.1', port: 0 },
        groups: [
          { name: '0.9', instances: addresses.slice(0, 2) },
          { name: '1.0', instances: addresses.slice(2) },
        ],
        weights: { '0.9': 50, '1.0': 50 },
        healthChecks: [
          { protocol: 'HTTP', path: '/health', gracePeriodSeconds: 5, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3, delaySeconds: 0 },
        ],
        timeouts: { connectMs: 1_000, headersMs: HEADERS_MS, idleMs: 5_000 },
        outlierDetection: { baseEjectionSeconds: 2 },
        exposeGroupHeader: true,
        drainSeconds: 2,
      },
    ],
  }
}

describe('fault drills under constant load (4 instances, 2 groups)', () => {
  let instances: Started[] = []
  let addresses: string[] = []
  let proxy: StartedProxy

  beforeEach(async () => {
    instances = await Promise.all(['0.9', '0.9', '1.0', '1.0'].map(startInstance))
    addresses = instances.map(addressOf)
    proxy = await startProxyProcess(drillConfig(addresses))
    await waitForStates(proxy.output, allIn(addresses, 'healthy'), 10_000, 'all instances healthy')
  })

  afterEach(async () => {
    await stopAll()
    removeTempFiles()
  })

  /** Runs GET load for `durationMs` and applies `fault` to instance 3 (group 1.0) after 1.5 s. */
  async function drill(durationMs: number, fault: (victim: Started) => Promise<void>) {
    const load = constantLoad({ url: `${proxy.url}/endpoint0`, rps: 100, durationMs })
    await sleep(1_500)
    await fault(instances[3]!)
    return load
  }

  it('SIGKILL: 0 failed GETs; the instance is ejected', async () => {
    let killedAt = 0
    const records = await drill(4_500, async (victim) => {
      killedAt = Date.now()
      await victim.stop('SIGKILL')
    })
    expect(failuresOf(records)).toEqual([])
    expect(records.length).toBeGreaterThan(300)
    const out = healthChanges(proxy.output()).find((change) => change.instance === addresses[3] && change.time >= killedAt)
    expect(out?.to).toBe('ejected')
  })

  it('SIGTERM: 0 failed requests', async () => {
    const records = await drill(4_500, async (victim) => {
      expect(await victim.stop('SIGTERM')).toBe(0)
    })
    expect(failuresOf(records)).toEqual([])
    expect(records.length).toBeGreaterThan(300)
  })

  it('SIGSTOP for 10 s, then SIGCONT: 0 failed GETs; ejected within a timeout, back after a passing check', async () => {
    let stoppedAt = 0
    let continuedAt = 0
    const records = await drill(13_500, async (victim) => {
      stoppedAt = Date.now()
      victim.child.kill('SIGSTOP')
      await sleep(10_000)
      continuedAt = Date.now()
      victim.child.kill('SIGCONT')
    })
    expect(failuresOf(records)).toEqual([])
    await waitForStates(proxy.output, allIn([addresses[3]!], 'healthy'), 10_000, 'frozen instance back')
    const changes = healthChanges(proxy.output()).filter((change) => change.instance === addresses[3] && change.time >= stoppedAt)
    // Behaviour, not speed: ejected after about one headers timeout (1.5 s), long before SIGCONT.
    expect(changes[0]).toMatchObject({ from: 'healthy', to: 'ejected' })
    expect(changes[0]!.reason).toMatch(/timeout/)
    expect(changes[0]!.time - stoppedAt).toBeLessThan(HEADERS_MS + 4_000)
    const back = changes.find((change) => change.to === 'healthy')!
    expect(back.time).toBeGreaterThanOrEqual(continuedAt)
    expect(back.reason).toBe('health check passed (200)')
  })
})
