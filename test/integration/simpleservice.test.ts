import { performance } from 'node:perf_hooks'
import { Agent, request } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { runCli, startCli, stopAll, type Started } from '../helpers/processes.js'

const BASE_ENV = { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: '0.9' }
const LISTENING = /This is simple service in version v0\.9 listening on port (\d+)\n/

// Node timers count whole milliseconds, so a delay can end up to 1 ms short of its nominal value.
const TIMER_SLACK_MS = 2

const agents: Agent[] = []
function agent(): Agent {
  const created = new Agent({ keepAliveTimeout: 1_000 })
  agents.push(created)
  return created
}

async function startService(env: Record<string, string> = {}): Promise<{ service: Started; port: number }> {
  const service = await startCli(['simpleservice'], { env: { ...BASE_ENV, ...env }, waitFor: LISTENING })
  return { service, port: Number(service.match[1]) }
}

/** GET with an explicit Host header; resolves with status, headers, body and elapsed ms. */
async function get(port: number, path: string, dispatcher = agent()) {
  const started = performance.now()
  const response = await request(`http://127.0.0.1:${port}${path}`, {
    headers: { host: `localhost:${port}` },
    dispatcher,
  })
  const body = await response.body.text()
  return { status: response.statusCode, headers: response.headers, body, elapsed: performance.now() - started }
}

afterEach(async () => {
  await Promise.all(agents.splice(0).map((created) => created.close()))
})
afterAll(stopAll)

describe('zdd-proxy simpleservice', () => {
  it('answers /endpoint0, /info and /health byte for byte and logs each request', async () => {
    const { service, port } = await startService()
    const endpoint0 = await get(port, '/endpoint0')
    expect(endpoint0.status).toBe(200)
    expect(endpoint0.headers['content-type']).toBe('application/json')
    expect(endpoint0.body).toBe(`{"host": "localhost:${port}", "version": "0.9", "result": "all is well"}`)
    const info = await get(port, '/info')
    expect(info.body).toBe(`{"host": "localhost:${port}", "version": "0.9", "from": "127.0.0.1"}`)
    const health = await get(port, '/health')
    expect([health.status, health.body]).toEqual([200, '{"healthy": true}'])
    // Waited for from before the request: the line may be printed before its answer arrives here.
    const envLogged = service.waitForLine(/INFO:tornado\.access:200 GET \/env \(127\.0\.0\.1\) \d+\.\d\dms\n/)
    const env = JSON.parse((await get(port, '/env')).body) as { version: string; env: Record<string, string> }
    expect(env.version).toBe('0.9')
    expect(env.env.SIMPLE_SERVICE_VERSION).toBe('0.9')
    await envLogged
    expect(service.output()).toMatch(/^INFO:tornado\.access:200 GET \/endpoint0 \(127\.0\.0\.1\) \d+\.\d\dms$/m)
  })

  it('answers 404 for unknown paths and 405 with Allow: GET for other methods', async () => {
    const { port } = await startService()
    const missing = await get(port, '/nope')
    expect(missing.status).toBe(404)
    expect(missing.headers['content-type']).toBe('text/html; charset=UTF-8')
    expect(missing.body).toBe('<html><title>404: Not Found</title><body>404: Not Found</body></html>')
    const posted = await request(`http://127.0.0.1:${port}/health`, { method: 'POST', body: 'x', dispatcher: agent() })
    expect(posted.statusCode).toBe(405)
    expect(posted.headers.allow).toBe('GET')
    expect(await posted.body.text()).toBe(
      '<html><title>405: Method Not Allowed</title><body>405: Method Not Allowed</body></html>',
    )
  })

  it('delays /health per request without blocking /endpoint0', async () => {
    const { port } = await startService({ HEALTH_MIN: '2000', HEALTH_MAX: '2500' })
    const finished: string[] = []
    const health = get(port, '/health').then((result) => {
      finished.push('health')
      return result
    })
    // Give the /health request time to reach the service; if it has not, the test only gets weaker.
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (let i = 0; i < 3; i++) {
      const endpoint0 = await get(port, '/endpoint0')
      expect(endpoint0.status).toBe(200)
      finished.push('endpoint0')
    }
    const result = await health
    expect(result.body).toBe('{"healthy": true}')
    expect(finished).toEqual(['endpoint0', 'endpoint0', 'endpoint0', 'health'])
    // The lower bound is what the service promises; there is no upper-bound check on purpose.
    expect(result.elapsed).toBeGreaterThanOrEqual(2000 - TIMER_SLACK_MS)
  })

  it('injects failures and latency into /endpoint0 only; quiet mode logs no requests; SIGINT exits 0', async () => {
    const { service, port } = await startService({ FAIL_RATE: '1', LATENCY_MS: '300', SIMPLE_SERVICE_QUIET: '1' })
    const failed = await get(port, '/endpoint0')
    expect(failed.status).toBe(500)
    expect(failed.headers['content-type']).toBe('application/json')
    expect(failed.body).toBe(`{"host": "localhost:${port}", "version": "0.9", "result": "injected failure"}`)
    expect(failed.elapsed).toBeGreaterThanOrEqual(300 - TIMER_SLACK_MS)
    expect((await get(port, '/health')).status).toBe(200)
    expect(await service.stop('SIGINT')).toBe(0)
    expect(service.output()).not.toContain('tornado.access')
  })

  it('on SIGTERM finishes a pending /health with 200, then exits 0', async () => {
    const { service, port } = await startService({ HEALTH_MIN: '1000', HEALTH_MAX: '1001' })
    const health = get(port, '/health')
    // Let the request reach the service first; a later request on another connection is the barrier.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await get(port, '/endpoint0')).status).toBe(200)
    const exited = service.stop('SIGTERM')
    const result = await health
    expect([result.status, result.body]).toEqual([200, '{"healthy": true}'])
    expect(result.headers.connection).toBe('close')
    expect(await exited).toBe(0)
  })

  it('refuses invalid environment values with one line and exit code 1', async () => {
    const cases: { env: Record<string, string>; message: RegExp }[] = [
      { env: { PORT0: 'eighty' }, message: /^zdd-proxy: simpleservice: PORT0 must be a port number/ },
      { env: { HEALTH_MIN: '2000', HEALTH_MAX: '1000' }, message: /^zdd-proxy: simpleservice: HEALTH_MIN \(2000\)/ },
      { env: { FAIL_RATE: '2' }, message: /^zdd-proxy: simpleservice: FAIL_RATE must be in 0\.\.1/ },
    ]
    const results = await Promise.all(cases.map(({ env }) => runCli(['simpleservice'], { env: { ...BASE_ENV, ...env } })))
    results.forEach((result, i) => {
      expect(result.code).toBe(1)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(cases[i]!.message)
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1)
    })
  })

  it('documents the deliberate differences in --help', async () => {
    const { code, stdout } = await runCli(['simpleservice', '--help'])
    expect(code).toBe(0)
    for (const text of ['does not block', 'as numbers', 'SIGTERM', 'FAIL_RATE', 'LATENCY_MS', 'SIMPLE_SERVICE_QUIET']) {
      expect(stdout).toContain(text)
    }
  })
})
