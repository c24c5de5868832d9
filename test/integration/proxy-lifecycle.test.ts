import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

const agent = new Agent({ keepAliveTimeout: 1_000 })

function startSimpleService(version: string): Promise<Started> {
  return startCli(['simpleservice'], {
    env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1' },
    waitFor: /listening on port (\d+)/,
  })
}

describe('proxy lifecycle', () => {
  const backends: TestBackend[] = []

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await Promise.all(backends.map((backend) => backend.close()))
    removeTempFiles()
  })

  it('loses no GET when an instance is SIGKILLed (connect retry)', async () => {
    const instances = await Promise.all([startSimpleService('0.9'), startSimpleService('0.9')])
    const ports = instances.map((instance) => instance.match[1])
    const proxy = await startProxyProcess(serviceConfig({ a: ports.map((port) => `127.0.0.1:${port}`) }, { a: 1 }))
    const failures: string[] = []
    for (let i = 0; i < 300; i++) {
      if (i === 100) await instances[0]!.stop('SIGKILL')
      try {
        const response = await request(`${proxy.url}/endpoint0`, { dispatcher: agent })
        const body = await response.body.text()
        if (response.statusCode !== 200) failures.push(`${response.statusCode} ${body}`)
      } catch (error) {
        failures.push(String(error))
      }
    }
    expect(failures).toEqual([])
    await proxy.stop()
  })

  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const backend = await startBackend('slow')
    backends.push(backend)
    const proxy = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }))
    // SIGHUP (a closed terminal) must not end a single-process proxy.
    proxy.child.kill('SIGHUP')
    await proxy.waitForLine(/"event":"sighup_ignored"/, 5_000)
    const inFlight = request(`${proxy.url}/slow/1500`, { dispatcher: agent }).then(async (response) => ({
      status: response.statusCode,
      body: await response.body.text(),
    }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const exit = proxy.stop('SIGTERM', 10_000)
    expect(await inFlight).toEqual({ status: 200, body: 'slow slow' })
    expect(await exit).toBe(0)
  })
})
