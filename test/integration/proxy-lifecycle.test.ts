import { once } from 'node:events'
import { connect } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess, writeConfig } from '../helpers/proxy.js'

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

  it('reloads its config on SIGHUP (a closed terminal) in a single process, and keeps serving', async () => {
    const backend = await startBackend('hup')
    backends.push(backend)
    const proxy = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }))
    const reloaded = proxy.waitForLine(/"event":"config_reloaded"/, 5_000)
    proxy.child.kill('SIGHUP')
    await reloaded
    const response = await request(`${proxy.url}/`, { dispatcher: agent })
    expect(response.statusCode).toBe(200)
    await response.body.text()
    expect(await proxy.stop('SIGTERM', 10_000)).toBe(0)
  })

  // The same stop path with and without workers: one signal handler, one data-plane close.
  describe.each([
    { mode: 'serve', args: [] as string[] },
    { mode: 'serve --workers 1', args: ['--workers', '1'] },
  ])('$mode on SIGTERM', ({ args }) => {
    it('finishes in-flight requests, closes idle connections without a reset, says stopping then stopped, exits 0', async () => {
      const backend = await startBackend('slow')
      backends.push(backend)
      const proxy = await startCli(['serve', '--config', writeConfig(serviceConfig({ a: [backend.address] }, { a: 1 })), ...args], {
        waitFor: /"event":"listening"[^\n]*"port":(\d+)/,
      })
      const port = Number(proxy.match[1])
      const idle = await idleConnection(port)
      const inFlight = request(`http://127.0.0.1:${port}/slow/1500`, { dispatcher: agent }).then(async (response) => ({
        status: response.statusCode,
        body: await response.body.text(),
      }))
      // In flight: the instance has it (a fixed pause would not say so on a loaded machine).
      for (let waited = 0; backend.hits.get('/slow/1500') !== 1; waited += 20) {
        if (waited > 10_000) throw new Error('the slow request never reached the instance')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const exit = proxy.stop('SIGTERM', 10_000)
      expect(await idle.closed).toEqual({ reset: false })
      expect(await inFlight).toEqual({ status: 200, body: 'slow slow' })
      expect(await exit).toBe(0)
      const output = proxy.output()
      expect(output.indexOf('"event":"stopping"')).toBeGreaterThan(0)
      expect(output.indexOf('"event":"stopped"')).toBeGreaterThan(output.indexOf('"event":"stopping"'))
    })
  })
})

/** A keep-alive connection that made one request and then idles; `closed` says how it ended. */
async function idleConnection(port: number): Promise<{ closed: Promise<{ reset: boolean }> }> {
  const socket = connect(port, '127.0.0.1')
  let reset = false
  socket.on('error', () => (reset = true))
  const closed = new Promise<{ reset: boolean }>((resolve) => socket.once('close', () => resolve({ reset })))
  socket.write('GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n')
  const [chunk] = (await once(socket, 'data')) as [Buffer]
  expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /)
  socket.resume()
  return { closed }
}
