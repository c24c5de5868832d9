import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternBytes, startBackend, type TestBackend } from '../helpers/backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

const FIELDS = [
  'time',
  'requestId',
  'client',
  'method',
  'path',
  'status',
  'bytesIn',
  'bytesOut',
  'durationMs',
  'complete',
  'service',
  'group',
  'instance',
  'retries',
  'redispatched',
  'sticky',
]

interface Line {
  [field: string]: unknown
}

describe('access log', () => {
  let a: TestBackend
  let b: TestBackend
  let dir: string
  const agent = new Agent({ keepAliveTimeout: 1_000 })

  beforeAll(async () => {
    a = await startBackend('a1')
    b = await startBackend('b1')
    dir = mkdtempSync(join(tmpdir(), 'zdd-access-'))
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await a.close()
    await b.close()
    rmSync(dir, { recursive: true, force: true })
    removeTempFiles()
  })

  const send = async (url: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}) => {
    const response = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body, dispatcher: agent })
    await response.body.arrayBuffer()
    return response
  }

  it('writes one JSON line per request with every field, after the answer, and flushes on stop', async () => {
    const path = join(dir, 'logs', 'access.log')
    const config = {
      accessLog: { path, sample: 1 },
      trustedProxies: ['127.0.0.1'],
      ...serviceConfig({ a: [a.address], b: [b.address] }, { a: 1, b: 0 }, { override: { header: 'x-zdd-group', allow: 'any', secret: 'sixteen-chars-secret' } }),
    }
    const proxy = await startProxyProcess(config)
    const first = await send(`${proxy.url}/download/3000`, { headers: { 'x-forwarded-for': '10.1.2.3' } })
    const cookie = String(first.headers['set-cookie']).split(';')[0]!
    await send(`${proxy.url}/echo`, { method: 'POST', headers: { cookie, 'content-type': 'application/octet-stream' }, body: patternBytes(1234) })
    await send(`${proxy.url}/status/503`, { headers: { cookie } })
    await send(`${proxy.url}/echo`, { headers: { cookie, 'x-zdd-group': 'b', 'x-zdd-override-secret': 'sixteen-chars-secret' } })
    // Refused before any instance: a malformed Host.
    const refused = await send(`${proxy.url}/echo`, { headers: { host: 'a b@c' } }).catch(() => undefined)
    expect(refused?.statusCode).toBe(400)
    await proxy.stop()

    const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Line)
    expect(lines).toHaveLength(5)
    for (const line of lines) expect(Object.keys(line)).toEqual(FIELDS)
    const [download, upload, error, override, bad] = lines as [Line, Line, Line, Line, Line]
    expect(download).toMatchObject({ method: 'GET', path: '/download/3000', status: 200, bytesIn: 0, bytesOut: 3000, complete: true, service: 'svc' })
    expect(download).toMatchObject({ group: 'a', instance: a.address, retries: 0, redispatched: false, sticky: 'new', client: '10.1.2.3' })
    expect(Date.parse(download.time as string)).not.toBeNaN()
    expect(upload).toMatchObject({ method: 'POST', status: 200, bytesIn: 1234, sticky: 'returning', client: '127.0.0.1' })
    expect(error).toMatchObject({ path: '/status/503', status: 503, group: 'a' })
    expect(override).toMatchObject({ status: 200, group: 'b', instance: b.address, sticky: 'override' })
    expect(bad).toMatchObject({ status: 400, service: 'svc', group: '', instance: '', sticky: 'none' })
    expect(typeof download.durationMs).toBe('number')
    expect(new Set(lines.map((line) => line.requestId)).size).toBe(5)
  })

  it('logs nothing at sample 0, and nothing without the accessLog block', async () => {
    const path = join(dir, 'none.log')
    const proxy = await startProxyProcess({ accessLog: { path, sample: 0 }, ...serviceConfig({ a: [a.address] }, { a: 1 }) })
    for (let i = 0; i < 20; i++) await send(`${proxy.url}/echo`)
    await proxy.stop()
    expect(readFileSync(path, 'utf8')).toBe('')
    const quiet = await startProxyProcess(serviceConfig({ a: [a.address] }, { a: 1 }))
    await send(`${quiet.url}/echo`)
    await quiet.stop()
    expect(quiet.output()).not.toContain('"requestId"')
  })
})
