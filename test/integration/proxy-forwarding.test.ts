import { connect } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternBytes, sha256, startBackend, type EchoReport, type TestBackend } from '../helpers/backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess, type StartedProxy } from '../helpers/proxy.js'

/** Sends raw bytes and returns everything the proxy answers until it closes or `untilText` shows. */
function rawExchange(port: number, text: string, untilText?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1')
      if (untilText !== undefined && answer.includes(untilText)) {
        socket.destroy()
        resolve(answer)
      }
    })
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
    socket.write(text)
  })
}

/** Polls `condition` every 20 ms; fails after 10 s (far longer than anything here should take). */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error('condition not met within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function headerPairs(raw: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!.toLowerCase(), raw[i + 1]!])
  return pairs
}

describe('forwarding through the proxy', () => {
  let backend: TestBackend
  let proxy: StartedProxy
  const agent = new Agent({ keepAliveTimeout: 1_000 })

  beforeAll(async () => {
    backend = await startBackend('a1')
    proxy = await startProxyProcess(
      serviceConfig({ a: [backend.address] }, { a: 1 }, { timeouts: { connectMs: 1000, headersMs: 1500, idleMs: 5000 } }),
    )
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await backend.close()
    removeTempFiles()
  })

  const echo = async (init: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: Buffer }) => {
    const response = await request(`${proxy.url}${init.path ?? '/echo'}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers,
      body: init.body,
      dispatcher: agent,
    })
    const report = (await response.body.json()) as EchoReport
    return { response, report, headers: headerPairs(report.rawHeaders) }
  }

  it('streams a 1 MiB upload intact', async () => {
    const body = patternBytes(1024 * 1024)
    const { response, report } = await echo({ method: 'PUT', path: '/echo?x=1&y=%20', body })
    expect(response.statusCode).toBe(200)
    expect(report.method).toBe('PUT')
    expect(report.url).toBe('/echo?x=1&y=%20')
    expect(report.bodyLength).toBe(body.length)
    expect(report.bodySha256).toBe(sha256(body))
  })

  it('streams a 1 MiB download intact', async () => {
    const response = await request(`${proxy.url}/download/1048576`, { dispatcher: agent })
    const body = Buffer.from(await response.body.arrayBuffer())
    expect(response.statusCode).toBe(200)
    expect(sha256(body)).toBe(sha256(patternBytes(1048576)))
  })

  it.each([204, 304, 404, 500])('passes status %i through', async (status) => {
    const response = await request(`${proxy.url}/status/${status}`, { dispatcher: agent })
    await response.body.dump()
    expect(response.statusCode).toBe(status)
    expect(response.headers['x-instance']).toBe('a1')
  })

  it('keeps hop-by-hop and Connection-named headers from the backend', async () => {
    const answer = await rawExchange(
      proxy.port,
      'GET /echo HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close, X-Forwarded-For, X-Secret\r\n' +
        'X-Secret: s\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\n' +
        'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nX-Kept: yes\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
    )
    const report = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as EchoReport
    const names = headerPairs(report.rawHeaders).map(([name]) => name)
    // The only Connection header the backend sees is undici's own keep-alive.
    expect(headerPairs(report.rawHeaders).filter(([name]) => name === 'connection')).toEqual([['connection', 'keep-alive']])
    for (const dropped of ['x-secret', 'keep-alive', 'te', 'proxy-authorization', 'upgrade', 'http2-settings']) {
      expect(names).not.toContain(dropped)
    }
    const headers = new Map(headerPairs(report.rawHeaders))
    expect(headers.get('x-kept')).toBe('yes')
    expect(headers.get('host')).toBe('example.test:8080')
    expect(headers.get('x-forwarded-for')).toBe('127.0.0.1')
    expect(headers.get('x-forwarded-host')).toBe('example.test:8080')
    expect(headers.get('x-forwarded-proto')).toBe('http')
  })

  it('overwrites spoofed X-Forwarded-* from an untrusted peer and strips Expect', async () => {
    const answer = await rawExchange(
      proxy.port,
      `POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n` +
        'X-Forwarded-Host: evil.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    )
    const report = JSON.parse(answer.slice(answer.lastIndexOf('\r\n\r\n') + 4)) as EchoReport
    expect(report.bodyLength).toBe(5)
    const headers = headerPairs(report.rawHeaders)
    const values = (name: string) => headers.filter(([key]) => key === name).map(([, value]) => value)
    expect(values('x-forwarded-for')).toEqual(['127.0.0.1'])
    expect(values('x-forwarded-proto')).toEqual(['http'])
    expect(values('x-forwarded-host')).toEqual([`127.0.0.1:${proxy.port}`])
    expect(values('expect')).toEqual([])
  })

  it('extends X-Forwarded-* from a trusted proxy instead of overwriting them', async () => {
    const trusting = await startProxyProcess({
      ...serviceConfig({ a: [backend.address] }, { a: 1 }),
      trustedProxies: ['127.0.0.0/8'],
    })
    const answer = await rawExchange(
      trusting.port,
      'GET /echo HTTP/1.1\r\nHost: inner.test\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n' +
        'X-Forwarded-Host: outer.test\r\nConnection: close\r\n\r\n',
    )
    const headers = new Map(headerPairs((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as EchoReport).rawHeaders))
    expect(headers.get('x-forwarded-for')).toBe('203.0.113.7, 127.0.0.1')
    expect(headers.get('x-forwarded-proto')).toBe('https')
    expect(headers.get('x-forwarded-host')).toBe('outer.test')
    await trusting.stop()
  })

  it('adds the x-zdd-group header', async () => {
    const response = await request(`${proxy.url}/`, { dispatcher: agent })
    await response.body.dump()
    expect(response.headers['x-zdd-group']).toBe('a')
  })

  it('refuses two Host headers (400), long targets (414) and too many headers (431)', async () => {
    const twoHosts = await rawExchange(proxy.port, 'GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n')
    expect(twoHosts).toMatch(/^HTTP\/1\.1 400 /)
    const longTarget = await rawExchange(proxy.port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)
    expect(longTarget).toMatch(/^HTTP\/1\.1 414 /)
    let many = 'GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n'
    for (let i = 0; i < 150; i++) many += `X-H${i}: v\r\n`
    expect(await rawExchange(proxy.port, `${many}\r\n`)).toMatch(/^HTTP\/1\.1 431 /)
    const huge = `GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20000)}\r\nConnection: close\r\n\r\n`
    expect(await rawExchange(proxy.port, huge)).toMatch(/^HTTP\/1\.1 431 /)
  })

  it('accepts absolute-form targets and refuses other non-path targets with 400', async () => {
    const absolute = await rawExchange(
      proxy.port,
      'GET http://example.test/echo?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    )
    expect(absolute).toMatch(/^HTTP\/1\.1 200 /)
    expect(JSON.parse(absolute.slice(absolute.indexOf('\r\n\r\n') + 4)).url).toBe('/echo?q=1')
    const odd = await rawExchange(proxy.port, 'GET ftp://x/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    expect(odd).toMatch(/^HTTP\/1\.1 400 /)
  })

  it('answers 504 with a JSON body when the instance is too slow', async () => {
    const response = await request(`${proxy.url}/slow/4000`, { dispatcher: agent })
    const body = (await response.body.json()) as { error: { code: string } }
    expect(response.statusCode).toBe(504)
    expect(body.error.code).toBe('upstream_timeout')
  })

  it('aborts the client connection when the instance resets mid-response', async () => {
    const outcome = await request(`${proxy.url}/reset-mid`, { dispatcher: agent }).then(
      async (response) => {
        await response.body.arrayBuffer()
        return 'complete'
      },
      () => 'error',
    ).catch(() => 'error')
    expect(outcome).toBe('error')
  })

  it('aborts the upstream request when the client leaves; a request pipelined behind it never goes upstream', async () => {
    // This proxy waits long for headers, so only the client's leaving can end these requests soon.
    const patient = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }, { timeouts: { headersMs: 60_000 } }))
    const before = backend.abandoned.length
    const socket = connect(patient.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET /slow/60000 HTTP/1.1\r\nHost: a\r\n\r\nGET /slow/60001 HTTP/1.1\r\nHost: a\r\n\r\n')
    await until(() => (backend.hits.get('/slow/60000') ?? 0) > 0)
    socket.destroy()
    await until(() => backend.abandoned.length - before === 1)
    expect(backend.abandoned.slice(before)).toEqual(['/slow/60000'])
    // Its turn never came: the second request waited behind the first.
    expect(backend.hits.get('/slow/60001')).toBeUndefined()
    await patient.stop()
  })

  it('passes WebSocket upgrades through', async () => {
    const answer = await rawExchange(
      proxy.port,
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nping-bytes',
      'ping-bytes',
    )
    expect(answer).toMatch(/^HTTP\/1\.1 101 /)
    expect(answer.toLowerCase()).toContain('sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=')
    expect(answer).toContain('ping-bytes')
  })
})
