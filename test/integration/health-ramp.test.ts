import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

const SLOW_START_SECONDS = 3
const agent = new Agent({ keepAliveTimeout: 1_000 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('slow start', () => {
  const backends: TestBackend[] = []

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await Promise.all(backends.map((backend) => backend.close()))
    removeTempFiles()
  })

  it("ramps a newly ready instance's share up over slowStartSeconds", async () => {
    const steady = await startBackend('steady')
    const fresh = await startBackend('fresh')
    backends.push(steady, fresh)
    fresh.setReady(false)
    const proxy = await startProxyProcess(
      serviceConfig({ a: [steady.address, fresh.address] }, { a: 1 }, {
        slowStartSeconds: SLOW_START_SECONDS,
        readinessChecks: [{ path: '/ready', intervalSeconds: 1, timeoutSeconds: 1 }],
      }),
    )
    const served = async (count: number) => {
      const seen = { steady: 0, fresh: 0 }
      for (let i = 0; i < count; i++) {
        const response = await request(`${proxy.url}/`, { dispatcher: agent })
        seen[(await response.body.text()) as 'steady' | 'fresh']++
      }
      return seen
    }
    // Let the steady instance finish its own ramp, then make the fresh one ready.
    await sleep(SLOW_START_SECONDS * 1000 + 500)
    fresh.setReady(true)
    const deadline = Date.now() + 5_000
    while ((fresh.hits.get('/') ?? 0) === 0 && Date.now() < deadline) await served(5)
    expect(fresh.hits.get('/') ?? 0).toBeGreaterThan(0)

    // Early in the ramp the fresh instance is listed 1-3 times against 10: its share is <= 23 %.
    // Sequential requests leave both idle, so P2C draws uniformly; 35 % of 200 is > 5 sd above.
    const early = await served(200)
    expect(early.fresh / 200).toBeLessThan(0.35)

    // After the ramp both are equal: 50 %, sd 2.5 pp over 400; 35 % is 6 sd below.
    await sleep(SLOW_START_SECONDS * 1000)
    const late = await served(400)
    expect(late.fresh / 400).toBeGreaterThan(0.35)
  })
})

describe('health checks at start-up', () => {
  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  it("checks instances found at start at once instead of waiting Marathon's delaySeconds (15 s)", async () => {
    const backend = await startBackend('b1')
    try {
      const proxy = await startProxyProcess(
        serviceConfig({ a: [backend.address] }, { a: 1 }, {
          // A block pasted from Marathon: delaySeconds defaults to 15.
          healthChecks: [{ protocol: 'HTTP', path: '/ready', intervalSeconds: 1, timeoutSeconds: 1 }],
        }),
      )
      let status = 0
      const deadline = Date.now() + 8_000
      while (status !== 200 && Date.now() < deadline) {
        const response = await request(`${proxy.url}/`, { reset: true })
        await response.body.dump()
        status = response.statusCode
        if (status !== 200) await sleep(100)
      }
      expect(status).toBe(200)
    } finally {
      await backend.close()
    }
  })
})
