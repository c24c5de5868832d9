/**
 * The same routing, stickiness, limits, headers and error behaviour whichever way a client comes
 * in: HTTP/1.1 over TLS, HTTP/2 over TLS (ALPN) and HTTP/2 with prior knowledge (h2c), each
 * checked by the same tests against one real proxy over real backends.
 */
import { execFile } from 'node:child_process'
import { connect as tlsConnect } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternBytes, sha256, startBackend, type EchoReport, type TestBackend } from '../helpers/backend.js'
import { binomialBand } from '../helpers/binomial.js'
import { makePki, type TestPki } from '../helpers/certs.js'
import { protocolClient, rawH2Request, type Protocol, type ProtocolClient } from '../helpers/clients.js'
import { startCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess, type StartedProxy } from '../helpers/proxy.js'

const run = promisify(execFile)

/** Two groups at 80/20, the same settings on a TLS listener (HTTP/1.1 and HTTP/2) and an h2c one. */
function edgeService(name: string, listen: Record<string, unknown>, a: TestBackend, b: TestBackend) {
  return {
    name,
    listen: { host: '127.0.0.1', port: 0, ...listen },
    groups: [
      { name: 'a', instances: [a.address] },
      { name: 'b', instances: [b.address] },
    ],
    weights: { a: 80, b: 20 },
    exposeGroupHeader: true,
    timeouts: { headersMs: 1000 },
    // The 504 test must not eject the instance it times out on: the split test comes next.
    outlierDetection: { consecutiveFailures: 0 },
  }
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const line = [setCookie ?? []].flat().find((value) => value.startsWith('zdd_client='))
  if (line === undefined) throw new Error('no zdd_client cookie issued')
  return line
}

function headerMap(report: EchoReport): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (let i = 0; i < report.rawHeaders.length; i += 2) {
    const name = report.rawHeaders[i]!.toLowerCase()
    map.set(name, [...(map.get(name) ?? []), report.rawHeaders[i + 1]!])
  }
  return map
}

describe('one proxy, three ways in', () => {
  let pki: TestPki
  let a: TestBackend
  let b: TestBackend
  let proxy: StartedProxy
  let ports: { tls: number; h2c: number }

  beforeAll(async () => {
    pki = makePki()
    const leaf = pki.leaf('edge', ['localhost'])
    a = await startBackend('a1')
    b = await startBackend('b1')
    proxy = await startProxyProcess({
      services: [edgeService('tls', { tls: { cert: leaf.cert, key: leaf.key } }, a, b), edgeService('h2c', { h2c: true }, a, b)],
    })
    const tlsPort = Number(/"service":"tls"[^\n]*"port":(\d+)/.exec(proxy.output())![1])
    const h2cPort = Number(/"service":"h2c"[^\n]*"port":(\d+)/.exec(proxy.output())![1])
    ports = { tls: tlsPort, h2c: h2cPort }
  })

  afterAll(async () => {
    await stopAll()
    await a.close()
    await b.close()
    pki.remove()
    removeTempFiles()
  })

  describe.each<[Protocol, string, string]>([
    ['https/1.1', '1.1', 'https'],
    ['h2', '2.0', 'https'],
    ['h2c', '2.0', 'http'],
  ])('%s', (protocol, version, scheme) => {
    let client: ProtocolClient
    beforeAll(() => {
      client = protocolClient(protocol, protocol === 'h2c' ? ports.h2c : ports.tls, pki.ca)
    })
    afterAll(() => client.close())

    it('forwards as HTTP/1.1 with the proxy headers set: Host from the authority, X-Forwarded-Proto, one Cookie header', async () => {
      const answer = await client.request('/echo?q=1', {
        headers: { 'x-forwarded-proto': 'gopher', 'x-kept': 'yes', cookie: ['one=1', 'zdd_client=fixed-id'], 'x_under': 'dropped' },
      })
      expect(answer.version).toBe(version)
      expect(answer.status).toBe(200)
      const report = JSON.parse(answer.body.toString()) as EchoReport
      const headers = headerMap(report)
      expect(report.url).toBe('/echo?q=1')
      const port = protocol === 'h2c' ? ports.h2c : ports.tls
      expect(headers.get('host')).toEqual([`127.0.0.1:${port}`])
      expect(headers.get('x-forwarded-proto')).toEqual([scheme])
      expect(headers.get('x-forwarded-for')).toEqual(['127.0.0.1'])
      expect(headers.get('x-kept')).toEqual(['yes'])
      expect(headers.get('cookie')).toEqual(['one=1; zdd_client=fixed-id'])
      expect(headers.has('x_under')).toBe(false)
      expect([...headers.keys()].filter((name) => name.startsWith(':'))).toEqual([])
      expect(answer.headers['x-request-id']).toBeUndefined()
      expect(headers.get('x-request-id')).toHaveLength(1)
    })

    it('issues the sticky cookie (Secure on TLS) and keeps each client in its group', async () => {
      for (let client_ = 0; client_ < 10; client_++) {
        const first = await client.request('/')
        const line = cookieOf(first.headers['set-cookie'])
        expect(line).toMatch(/HttpOnly; SameSite=Lax/)
        expect(line.endsWith('; Secure')).toBe(scheme === 'https')
        const cookie = line.slice(0, line.indexOf(';'))
        for (let i = 0; i < 5; i++) {
          const again = await client.request('/', { headers: { cookie } })
          expect(again.headers['x-zdd-group']).toBe(first.headers['x-zdd-group'])
          expect(again.headers['set-cookie']).toBeUndefined()
        }
      }
    })

    it('splits new clients 80/20', async () => {
      const clients = 400
      let canary = 0
      for (let i = 0; i < clients; i++) if ((await client.request('/')).headers['x-zdd-group'] === 'b') canary++
      const [lo, hi] = binomialBand(clients, 0.2, 1e-7)
      expect(canary).toBeGreaterThanOrEqual(lo)
      expect(canary).toBeLessThanOrEqual(hi)
    })

    it('streams a 1 MiB upload and a 1 MiB download intact', async () => {
      const body = patternBytes(1024 * 1024)
      const up = await client.request('/echo', { method: 'PUT', body })
      const report = JSON.parse(up.body.toString()) as EchoReport
      expect(report.bodyLength).toBe(body.length)
      expect(report.bodySha256).toBe(sha256(body))
      const down = await client.request('/download/1048576')
      expect(down.status).toBe(200)
      expect(sha256(down.body)).toBe(sha256(patternBytes(1048576)))
    })

    it('passes statuses through and answers its own errors as JSON: 504, 414, 431', async () => {
      expect((await client.request('/status/404')).status).toBe(404)
      expect((await client.request('/status/204')).status).toBe(204)
      const slow = await client.request('/slow/3000')
      expect(slow.status).toBe(504)
      expect(JSON.parse(slow.body.toString())).toMatchObject({ error: { code: 'upstream_timeout' } })
      expect(slow.headers['x-request-id']).toBeDefined()
      const long = await client.request(`/${'x'.repeat(9000)}`)
      expect(long.status).toBe(414)
      const many: Record<string, string> = {}
      for (let i = 0; i < 101; i++) many[`x-h${i}`] = '1'
      const crowded = await client.request('/', { headers: many })
      expect(crowded.status).toBe(431)
      expect(JSON.parse(crowded.body.toString())).toMatchObject({ error: { code: 'headers_too_large' } })
    })

    it('cuts the upstream request when the client gives up', async () => {
      const path = `/slow/800?${protocol}`
      // Given up once an instance has the request (a fixed delay may come before it got there).
      const seen = () => (a.hits.get('/slow/800') ?? 0) + (b.hits.get('/slow/800') ?? 0)
      const before = seen()
      const arrived = (async () => {
        for (let waited = 0; seen() === before && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10))
      })()
      await expect(client.request(path, { abortWhen: arrived })).rejects.toThrow()
      for (let waited = 0; !a.abandoned.concat(b.abandoned).includes('/slow/800') && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50))
      expect(a.abandoned.concat(b.abandoned)).toContain('/slow/800')
      a.abandoned.length = 0
      b.abandoned.length = 0
      // The connection (or, for HTTP/2, the other streams on it) still serves.
      expect((await client.request('/')).status).toBe(200)
    })
  })

  it('HTTP/2: streams on one connection run side by side, not one after another', async () => {
    const client = protocolClient('h2', ports.tls, pki.ca)
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => client.request('/slow/300')))
      expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200))
      // One connection: twenty 300 ms answers in a row would take 6 s; the test's own timeout says no.
    } finally {
      client.close()
    }
  }, 4_000)

  it('HTTP/2: refuses CONNECT (405) and a Host that differs from :authority (400)', async () => {
    const connect = await rawH2Request(ports.tls, pki.ca, { ':method': 'CONNECT', ':authority': 'example.test:443' })
    expect(connect.status).toBe(405)
    expect(JSON.parse(connect.body)).toMatchObject({ error: { code: 'method_not_allowed' } })
    const mismatch = await rawH2Request(ports.tls, pki.ca, { ':method': 'GET', ':path': '/', ':authority': `127.0.0.1:${ports.tls}`, host: 'other.example' })
    expect(mismatch.status).toBe(400)
    expect(JSON.parse(mismatch.body)).toMatchObject({ error: { code: 'bad_request' } })
  })

  it('offers only TLS 1.2 and up', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: ports.tls, ca: pki.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })
      socket.once('secureConnect', () => {
        resolve(socket.getProtocol() ?? 'none')
        socket.destroy()
      })
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    })
    expect(outcome).not.toMatch(/^TLSv1(\.1)?$/)
  })
})

describe('curl --http2 -k against simpleservice', () => {
  let pki: TestPki
  afterAll(async () => {
    await stopAll()
    pki.remove()
    removeTempFiles()
  })

  it('answers HTTP/2 200 with the sticky cookie marked Secure; HTTP/1.1 over TLS works too', async () => {
    pki = makePki()
    const leaf = pki.leaf('simple', ['localhost'])
    const simple = await startCli(['simpleservice'], { waitFor: /listening on port (\d+)/, env: { PORT0: '0' } })
    const port = Number(simple.match[1])
    const proxy = await startProxyProcess({
      services: [{ name: 'simpleservice', listen: { host: '127.0.0.1', port: 0, tls: leaf }, groups: [{ name: '0.9', instances: [`127.0.0.1:${port}`] }] }],
    })
    const h2 = await run('curl', ['--http2', '-k', '-s', '-i', `https://127.0.0.1:${proxy.port}/endpoint0`])
    expect(h2.stdout).toMatch(/^HTTP\/2 200/)
    expect(h2.stdout).toMatch(/^set-cookie: zdd_client=[^\r\n]*; Secure\r?$/m)
    expect(h2.stdout).toContain(`{"host": "127.0.0.1:${proxy.port}", "version": "0.5.0", "result": "all is well"}`)
    const h1 = await run('curl', ['--http1.1', '-k', '-s', '-i', `https://127.0.0.1:${proxy.port}/endpoint0`])
    expect(h1.stdout).toMatch(/^HTTP\/1\.1 200/)
    expect(h1.stdout).toContain('"result": "all is well"')
  })
})
