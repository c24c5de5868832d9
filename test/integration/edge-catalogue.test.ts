/**
 * The edge catalogue: every odd request and response a careful proxy must handle, sent as raw
 * bytes to a real proxy process in front of hand-written backends that record the exact bytes
 * they receive. Each case asserts what the client got, what reached a backend (often: nothing),
 * and, at the end, that none of it changed the admin state.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restartablePorts } from '../helpers/ports.js'
import { stopAll } from '../helpers/processes.js'
import { headerValues, startRawBackend, type RawBackend, type RawRequest } from '../helpers/raw-backend.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, startControlledProxy, stateDir, type ControlledProxy } from './control-helpers.js'

const TOKEN = 'catalogue-admin-token'
const READ_TOKEN = 'catalogue-read-token'
const SECRET = 'catalogue-override-secret'
const TRUSTED_PEER = '127.0.0.2'
const UNTRUSTED_PEER = '127.0.0.3'
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/** What the hand-written backends answer, by path: bytes no HTTP library would write. */
function script(request: RawRequest, socket: Socket): void {
  const path = request.requestLine.split(' ')[1]!.split('?')[0]!
  const answer = (text: string) => socket.write(text)
  switch (path) {
    case '/304':
      return void answer('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\n')
    case '/204':
      return void answer('HTTP/1.1 204 No Content\r\nX-Kept: yes\r\nContent-Length: 5\r\n\r\n')
    case '/unsolicited-100':
      return void answer('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    case '/status-999':
      return void answer('HTTP/1.1 999 Nine\r\nContent-Length: 2\r\n\r\nok')
    case '/hang':
      return
    case '/ws-401':
      return void answer('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="ws"\r\nContent-Length: 6\r\n\r\ndenied')
    case '/ws-426':
      return void answer('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 7\r\n\r\nupgrade')
    case '/ws-200':
      return void answer('HTTP/1.1 200 OK\r\nX-Plain: yes\r\nContent-Length: 5\r\n\r\nplain')
    case '/ws':
      return void answer(
        'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      )
    case '/public':
      return void answer('HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\nContent-Length: 2\r\n\r\nok')
    case '/no-store':
      return void answer('HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok')
    case '/hop':
      return void answer('HTTP/1.1 200 OK\r\nConnection: x-keep\r\nX-Keep: 1\r\nKeep-Alive: timeout=5\r\nX-Other: 2\r\nContent-Length: 2\r\n\r\nok')
    default:
      return void answer('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
  }
}

interface Response {
  readonly status: number
  readonly head: string
  header(name: string): string | undefined
  readonly body: string
}

/** Splits what a proxy sent on one connection into responses (Content-Length, chunked, bodiless or close-delimited). */
function parseResponses(text: string): Response[] {
  const responses: Response[] = []
  let rest = text
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) break
    const head = rest.slice(0, end)
    const status = Number(head.slice(9, 12))
    const lines = head.split('\r\n').slice(1)
    const header = (name: string) => {
      const line = lines.find((candidate) => candidate.toLowerCase().startsWith(`${name.toLowerCase()}:`))
      return line?.slice(line.indexOf(':') + 1).trim()
    }
    rest = rest.slice(end + 4)
    let body = ''
    if (status === 204 || status === 304 || status < 200) {
      // No body, whatever the headers say.
    } else if (header('transfer-encoding') === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n')
        const size = Number.parseInt(rest.slice(0, lineEnd), 16)
        rest = rest.slice(lineEnd + 2)
        if (size === 0) {
          rest = rest.slice(rest.indexOf('\r\n') + 2)
          break
        }
        body += rest.slice(0, size)
        rest = rest.slice(size + 2)
      }
    } else if (header('content-length') !== undefined) {
      const length = Number(header('content-length'))
      body = rest.slice(0, length)
      rest = rest.slice(length)
    } else {
      body = rest
      rest = ''
    }
    responses.push({ status, head, header, body })
  }
  return responses
}

/**
 * Writes `text` from `localAddress` and returns everything the proxy answers until it closes, or
 * until the answer ends with `untilEnd` (10 s at most).
 */
function raw(port: number, text: string, localAddress = '127.0.0.1', untilEnd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress })
    let answer = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no close within 10 s; got ${JSON.stringify(answer.slice(0, 300))}`))
    }, 10_000)
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1')
      if (untilEnd !== undefined && answer.endsWith(untilEnd)) socket.destroy()
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(answer)
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.write(text)
  })
}

/** The one response of a `Connection: close` exchange. */
async function one(port: number, text: string, localAddress?: string): Promise<Response> {
  const responses = parseResponses(await raw(port, text, localAddress))
  expect(responses).toHaveLength(1)
  return responses[0]!
}

/** `GET path` with `Connection: close` and the extra header lines given. */
function get(path: string, ...headers: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: edge.test\r\n${headers.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`
}

function upgrade(target: string, ...headers: string[]): string {
  return (
    `GET ${target} HTTP/1.1\r\nHost: edge.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`
  )
}

/** Polls `condition` every 20 ms; fails after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error('condition not met within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Tries `attempt` every 50 ms until it says true (then true) or 5 s have passed (then false). */
async function soon(attempt: () => Promise<boolean>): Promise<boolean> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
    if (await attempt()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}

/** Requests `backend` received while `action` ran. */
async function receivedDuring(backend: RawBackend, action: () => Promise<unknown>): Promise<RawRequest[]> {
  const before = backend.received.length
  await action()
  return backend.received.slice(before)
}

/** Sum of a counter's samples whose labels include `service="name"` (and `label`, when given). */
function counterSum(metrics: string, counter: string, service: string, label = ''): number {
  let sum = 0
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${counter}{`) && line.includes(`service="${service}"`) && line.includes(label)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

describe('edge catalogue', () => {
  let proxy: ControlledProxy
  const ports = new Map<string, number>()
  const backends = new Map<string, RawBackend>()
  let closedPort = 0
  const read = { authorization: `Bearer ${READ_TOKEN}` }
  const write = { authorization: `Bearer ${TOKEN}` }
  const port = (service: string) => ports.get(service)!
  const backend = (name: string) => backends.get(name)!

  beforeAll(async () => {
    for (const name of ['live', 'dark', 'old', 'new', 'next', 'ipA', 'ipB', 'vhostA', 'vhostB']) {
      backends.set(name, await startRawBackend(script))
    }
    // A port nothing listens on, and one for the two vhost services to share (outside the ephemeral range).
    const [unused, sharedPort] = await restartablePorts(2)
    closedPort = unused!

    const listen = { host: '127.0.0.1', port: 0 }
    const service = (name: string, groups: Record<string, string[]>, weights: Record<string, number>, extra: Record<string, unknown> = {}) => ({
      name,
      listen,
      groups: Object.entries(groups).map(([group, instances]) => ({ name: group, instances })),
      weights,
      exposeGroupHeader: true,
      retries: 0,
      timeouts: { connectMs: 1000, headersMs: 1500, idleMs: 5000 },
      ...extra,
    })
    const address = (name: string) => [backend(name).address]
    const override = { header: 'x-zdd-group', cookie: 'zdd_group' }
    proxy = await startControlledProxy({
      admin: { host: '127.0.0.1', port: 0, token: TOKEN, readToken: READ_TOKEN, maxEventStreams: 2 },
      state: { store: 'file', path: `${stateDir()}/state.json` },
      trustedProxies: [TRUSTED_PEER],
      services: [
        service('edge', { live: address('live'), dark: address('dark') }, { live: 100, dark: 0 }, {
          override,
          outlierDetection: { consecutiveFailures: 1, consecutive5xx: 1 },
        }),
        service('lab', { old: address('old'), new: address('new') }, { old: 100, new: 0 }, { override, drainSeconds: 1 }),
        service('dark', { live: address('live'), next: address('next') }, { live: 100, next: 0 }, {
          override: { ...override, allow: 'any', secret: SECRET },
        }),
        service('byip', { a: address('ipA'), b: address('ipB') }, { a: 50, b: 50 }, { sticky: { by: 'ip' } }),
        service('capped', { live: address('live') }, { live: 1 }, { listen: { ...listen, maxConnections: 3 } }),
        service('deadcut', { up: address('live'), down: [`127.0.0.1:${closedPort}`] }, { up: 100, down: 0 }),
        service('va', { a: address('vhostA') }, { a: 1 }, { listen: { ...listen, port: sharedPort }, vhosts: ['a.example'] }),
        service('vb', { b: address('vhostB') }, { b: 1 }, { listen: { ...listen, port: sharedPort }, vhosts: ['b.example'] }),
      ],
    })
    for (const match of proxy.output().matchAll(/"event":"listening","service":"([^"]+)"[^\n]*"port":(\d+)/g)) {
      ports.set(match[1]!, Number(match[2]))
    }
    expect([...ports.keys()].sort()).toEqual(['byip', 'capped', 'dark', 'deadcut', 'edge', 'lab', 'va', 'vb'])
    // Services on port 0 each get a port of their own; the two vhost services share theirs.
    expect(new Set(ports.values()).size).toBe(7)
  }, 30_000)

  afterAll(async () => {
    await stopAll()
    for (const raw of backends.values()) await raw.close()
    removeTempFiles()
  })

  describe('requests', () => {
    let adminBefore: unknown

    beforeAll(async () => {
      adminBefore = (await admin(proxy.adminUrl, 'GET', '/v1/services', undefined, read)).json
    })

    it('override: a weight-0 group cannot be reached by header or cookie ("weighted" is the default)', async () => {
      const dark = await receivedDuring(backend('dark'), async () => {
        expect((await one(port('edge'), get('/e', 'X-Zdd-Group: dark'))).header('x-zdd-group')).toBe('live')
        expect((await one(port('edge'), get('/e', 'Cookie: zdd_group=dark'))).header('x-zdd-group')).toBe('live')
      })
      expect(dark).toEqual([])
    })

    it('override: "any" reaches a weight-0 group only with the secret, by header or by GROUP:SECRET cookie', async () => {
      const group = async (...headers: string[]) => (await one(port('dark'), get('/e', ...headers))).header('x-zdd-group')
      expect(await group('X-Zdd-Group: next')).toBe('live')
      expect(await group('X-Zdd-Group: next', 'X-Zdd-Override-Secret: not-the-secret-at-all')).toBe('live')
      expect(await group('Cookie: zdd_group=next:wrong')).toBe('live')
      const sent = await receivedDuring(backend('next'), async () => {
        expect(await group('X-Zdd-Group: next', `X-Zdd-Override-Secret: ${SECRET}`)).toBe('next')
        expect(await group(`Cookie: a=1; zdd_group=next:${SECRET}; b=2`)).toBe('next')
      })
      // The secret is the proxy's business: it never reaches the backend; other cookies do.
      expect(sent).toHaveLength(2)
      expect(headerValues(sent[0]!, 'x-zdd-override-secret')).toEqual([])
      expect(headerValues(sent[1]!, 'cookie')).toEqual(['a=1; b=2'])
    })

    it('relays a 304 or 204 that carries Content-Length without a body, and keeps the connection usable', async () => {
      const keepAlive = (path: string) => `GET ${path} HTTP/1.1\r\nHost: edge.test\r\n\r\n`
      const answers = parseResponses(await raw(port('edge'), keepAlive('/304') + keepAlive('/204') + get('/e')))
      expect(answers.map((answer) => answer.status)).toEqual([304, 204, 200])
      expect(answers[0]!.header('etag')).toBe('"v1"')
      expect(answers[1]!.header('x-kept')).toBe('yes')
      expect(answers[2]!.body).toBe('ok')
    })

    it('relays the final answer after an unsolicited 100 Continue, and does not count it against the instance', async () => {
      const errors = async () =>
        counterSum((await admin(proxy.adminUrl, 'GET', '/metrics', undefined, read)).json as string, 'zdd_upstream_errors_total', 'edge')
      const before = await errors()
      for (let i = 0; i < 3; i++) {
        const answer = await one(port('edge'), get('/unsolicited-100'))
        expect(answer.status).toBe(200)
        expect(answer.body).toBe('ok')
      }
      expect(await errors()).toBe(before)
      expect((await one(port('edge'), get('/e'))).status).toBe(200)
    })

    it('sends a POST answered with an unsolicited 100 once (502), never twice, still not held against the instance', async () => {
      const reachability = async () => {
        const text = (await admin(proxy.adminUrl, 'GET', '/metrics', undefined, read)).json as string
        return ['connect', 'reset', 'timeout'].map((kind) => counterSum(text, 'zdd_upstream_errors_total', 'edge', `kind="${kind}"`))
      }
      const before = await reachability()
      const sent = await receivedDuring(backend('live'), async () => {
        const post = 'POST /unsolicited-100 HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'
        expect((await one(port('edge'), post)).status).toBe(502)
      })
      expect(sent).toHaveLength(1)
      expect(await reachability()).toEqual(before)
    })

    it('relays a refused WebSocket upgrade whole: status, headers and body', async () => {
      const denied = await one(port('edge'), upgrade('/ws-401'))
      expect(denied.status).toBe(401)
      expect(denied.header('www-authenticate')).toBe('Basic realm="ws"')
      expect(denied.body).toBe('denied')
      const required = await one(port('edge'), upgrade('/ws-426'))
      expect(required.status).toBe(426)
      expect(required.header('sec-websocket-version')).toBe('13')
      expect(required.body).toBe('upgrade')
      const plain = await one(port('edge'), upgrade('/ws-200'))
      expect(plain.status).toBe(200)
      expect(plain.header('x-plain')).toBe('yes')
      expect(plain.body).toBe('plain')
    })

    it('runs the request checks on upgrades: absolute form rewritten, long targets, many headers and POST refused', async () => {
      const live = backend('live')
      const sent = await receivedDuring(live, async () => {
        const answer = await raw(port('edge'), upgrade('http://other.example/ws') + 'hello', '127.0.0.1', 'hello')
        expect(answer).toMatch(/^HTTP\/1\.1 101 /)
      })
      expect(sent.map((request) => request.requestLine)).toEqual(['GET /ws HTTP/1.1'])
      expect(headerValues(sent[0]!, 'host')).toEqual(['other.example'])

      const refused = await receivedDuring(live, async () => {
        expect((await one(port('edge'), upgrade(`/ws?${'x'.repeat(10_000)}`))).status).toBe(414)
        const many = Array.from({ length: 150 }, (_, i) => `X-H${i}: v`)
        expect((await one(port('edge'), upgrade('/ws', ...many))).status).toBe(431)
        const post = upgrade('/ws', 'Content-Length: 0').replace(/^GET/, 'POST')
        const answer = await one(port('edge'), post)
        expect(answer.status).toBe(405)
        expect(answer.header('allow')).toBe('GET')
      })
      expect(refused).toEqual([])
    })

    it('answers errors with a generic body and a request id, never the instance address', async () => {
      const timeout = await one(port('edge'), get('/hang'))
      expect(timeout.status).toBe(504)
      const id = timeout.header('x-request-id')
      expect(id).toMatch(/^\S+$/)
      expect(JSON.parse(timeout.body).error.code).toBe('upstream_timeout')
      expect(timeout.body).toContain(id)
      expect(timeout.body).not.toContain('127.0.0.1')
      expect(timeout.body).not.toContain(String(backend('live').port))
      // The instance is in the log, under the same id.
      await until(() => proxy.output().includes(`"requestId":"${id}"`))
      expect(proxy.output()).toMatch(new RegExp(`"requestId":"${id}"[^\\n]*${backend('live').port}|${backend('live').port}[^\\n]*"requestId":"${id}"`))
    })

    it('sends a request id upstream: a new one for untrusted peers, the trusted peer\'s own otherwise', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        await one(port('edge'), get('/e', 'X-Request-Id: forged'), UNTRUSTED_PEER)
        await one(port('edge'), get('/e', 'X-Request-Id: from-the-balancer'), TRUSTED_PEER)
      })
      expect(headerValues(sent[0]!, 'x-request-id')).toHaveLength(1)
      expect(headerValues(sent[0]!, 'x-request-id')[0]).not.toBe('forged')
      expect(headerValues(sent[1]!, 'x-request-id')).toEqual(['from-the-balancer'])
    })

    it('routes an absolute-form request by the URI authority, which also becomes Host', async () => {
      const request = 'GET http://b.example/e?q=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n'
      const vhostA = await receivedDuring(backend('vhostA'), async () => {
        const toB = await receivedDuring(backend('vhostB'), async () => expect((await one(port('va'), request)).status).toBe(200))
        expect(toB.map((sent) => sent.requestLine)).toEqual(['GET /e?q=1 HTTP/1.1'])
        expect(headerValues(toB[0]!, 'host')).toEqual(['b.example'])
      })
      expect(vhostA).toEqual([])
    })

    it('sticky by ip: hashes the client address a trusted proxy names, and the socket peer otherwise', async () => {
      const groupFor = async (xff: string, peer: string) =>
        (await one(port('byip'), get('/e', `X-Forwarded-For: ${xff}`), peer)).header('x-zdd-group')!
      const trusted = new Map<string, string>()
      for (let i = 1; i <= 40; i++) trusted.set(`10.0.${i}.7`, await groupFor(`10.0.${i}.7`, TRUSTED_PEER))
      // Behind one balancer, 40 clients all in one group of a 50/50 split: p = 2^-39.
      expect(new Set(trusted.values()).size).toBe(2)
      // The same client stays in its group.
      for (const [client, group] of [...trusted].slice(0, 10)) expect(await groupFor(client, TRUSTED_PEER)).toBe(group)
      // Untrusted peers cannot choose: the socket address decides, whatever they claim.
      const untrusted = new Set<string>()
      for (let i = 1; i <= 10; i++) untrusted.add(await groupFor(`10.0.${i}.7`, UNTRUSTED_PEER))
      expect(untrusted.size).toBe(1)
    })

    it('X-Forwarded-*, Forwarded and X-Real-IP: overwritten or dropped for untrusted peers, extended or kept for trusted ones', async () => {
      const spoof = ['X-Forwarded-For: 6.6.6.6', 'X-Forwarded-Proto: https', 'Forwarded: for=6.6.6.6;proto=https', 'X-Real-IP: 6.6.6.6']
      const sent = await receivedDuring(backend('live'), async () => {
        await one(port('edge'), get('/e', ...spoof), UNTRUSTED_PEER)
        await one(port('edge'), get('/e', ...spoof), TRUSTED_PEER)
      })
      const [untrusted, trusted] = sent
      expect(headerValues(untrusted!, 'x-forwarded-for')).toEqual([UNTRUSTED_PEER])
      expect(headerValues(untrusted!, 'x-forwarded-proto')).toEqual(['http'])
      expect(headerValues(untrusted!, 'forwarded')).toEqual([])
      expect(headerValues(untrusted!, 'x-real-ip')).toEqual([])
      expect(headerValues(trusted!, 'x-forwarded-for')).toEqual([`6.6.6.6, ${TRUSTED_PEER}`])
      expect(headerValues(trusted!, 'x-forwarded-proto')).toEqual(['https'])
      expect(headerValues(trusted!, 'forwarded')).toEqual(['for=6.6.6.6;proto=https'])
      expect(headerValues(trusted!, 'x-real-ip')).toEqual(['6.6.6.6'])
    })

    it('drops header names with "_" that backends may read as "-"', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        const body = 'POST /e HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\nhello'
        expect((await one(port('edge'), body)).status).toBe(200)
      })
      expect(sent).toHaveLength(1)
      expect(sent[0]!.headers.filter(([name]) => name.includes('_'))).toEqual([])
      expect(sent[0]!.body.toString()).toBe('hello')
    })

    it('refuses a malformed Host with 400 and CONNECT with 405, sending nothing upstream', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        for (const host of ['a b@c', '', 'a.example, b.example', 'a.example:99999', 'a/b']) {
          const answer = await one(port('edge'), `GET /e HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
          expect(answer.status, `Host: ${host}`).toBe(400)
          expect(JSON.parse(answer.body).error.code).toBe('bad_request')
        }
        const connectAnswer = await one(port('edge'), 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n')
        expect(connectAnswer.status).toBe(405)
        expect(JSON.parse(connectAnswer.body).error.code).toBe('method_not_allowed')
      })
      expect(sent).toEqual([])
    })

    it('an HTTP/1.0 request without Host gets no empty X-Forwarded-Host', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        expect((await one(port('edge'), 'GET /e HTTP/1.0\r\n\r\n')).status).toBe(200)
      })
      expect(headerValues(sent[0]!, 'x-forwarded-host')).toEqual([])
    })

    it('strips a #fragment from the target', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        expect((await one(port('edge'), get('/e?q=1#frag'))).status).toBe(200)
      })
      expect(sent[0]!.requestLine).toBe('GET /e?q=1 HTTP/1.1')
    })

    it('answers 502 for a status outside 100–599', async () => {
      const answer = await one(port('edge'), get('/status-999'))
      expect(answer.status).toBe(502)
      expect(answer.body).not.toContain('ok')
    })

    it('adds Cache-Control: private to answers that set the sticky cookie, unless they say private or no-store', async () => {
      const fresh = await one(port('edge'), get('/e'))
      expect(fresh.header('set-cookie')).toMatch(/^zdd_client=/)
      expect(fresh.header('cache-control')).toBe('private')
      const publicAnswer = await one(port('edge'), get('/public'))
      expect(publicAnswer.header('cache-control')).toBe('public, max-age=60, private')
      expect((await one(port('edge'), get('/no-store'))).header('cache-control')).toBe('no-store')
      // A returning client's answer carries no cookie and keeps the backend's caching as it is.
      expect((await one(port('edge'), get('/public', 'Cookie: zdd_client=returning'))).header('cache-control')).toBe('public, max-age=60')
    })

    it('already handled: smuggling attempts get 400 and send nothing upstream', async () => {
      const attempts = [
        'POST /e HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG',
        'POST /e HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n',
        'POST /e HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
        'POST /e HTTP/1.1\r\nHost: edge.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
        'POST /e HTTP/1.1\r\nHost: edge.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
        'GET /e HTTP/1.1\r\nHost: edge.test\r\nX-Folded: a\r\n b\r\n\r\n',
        'GET /e HTTP/1.1\nHost: edge.test\n\n',
        'GET /e HTTP/1.1\r\nHost: edge.test\r\nX-Nul: a\0b\r\n\r\n',
        'GET /e HTTP/1.1\r\nHost: edge.test\r\nHost: other.test\r\n\r\n',
      ]
      const sent = await receivedDuring(backend('live'), async () => {
        for (const attempt of attempts) expect((await one(port('edge'), attempt)).status, JSON.stringify(attempt)).toBe(400)
      })
      expect(sent).toEqual([])
    })

    it('already handled: limits on the target (414) and the header count (431)', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        expect((await one(port('edge'), get(`/e?${'x'.repeat(10_000)}`))).status).toBe(414)
        expect((await one(port('edge'), get('/e', ...Array.from({ length: 150 }, (_, i) => `X-H${i}: v`)))).status).toBe(431)
      })
      expect(sent).toEqual([])
    })

    it('already handled: hop-by-hop headers, and headers named in Connection, go no further in either direction', async () => {
      const sent = await receivedDuring(backend('live'), async () => {
        const answer = await one(port('edge'), get('/hop', 'Connection: x-drop', 'X-Drop: 1', 'Keep-Alive: timeout=9', 'Proxy-Connection: keep-alive', 'TE: trailers'))
        expect(answer.header('x-keep')).toBeUndefined()
        expect(answer.header('keep-alive')).toBeUndefined()
        expect(answer.header('x-other')).toBe('2')
      })
      for (const name of ['x-drop', 'keep-alive', 'proxy-connection', 'te']) expect(headerValues(sent[0]!, name), name).toEqual([])
    })

    it('left the admin state as it was', async () => {
      const after = (await admin(proxy.adminUrl, 'GET', '/v1/services', undefined, read)).json as { revision: number; services: Array<{ name: string; weights: unknown }> }
      const before = adminBefore as typeof after
      expect(after.revision).toBe(before.revision)
      expect(after.services.map(({ name, weights }) => ({ name, weights }))).toEqual(before.services.map(({ name, weights }) => ({ name, weights })))
    })
  })

  describe('caps and the admin API', () => {
    it('caps client connections per listener: the one over the cap is closed, and served again once one leaves', async () => {
      const held = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const socket = connect(port('capped'), '127.0.0.1')
          await new Promise((resolve) => socket.once('connect', resolve))
          return socket
        }),
      )
      // Accepted sockets are counted once the server sees them: one exchange on each proves it.
      for (const socket of held) {
        socket.write('GET /e HTTP/1.1\r\nHost: edge.test\r\n\r\n')
        await new Promise((resolve) => socket.once('data', resolve))
      }
      // Over the cap the connection is closed at once (reset, as it was not read): no answer at all.
      const over = await raw(port('capped'), get('/e')).catch((error: NodeJS.ErrnoException) => error.code)
      expect(['', 'ECONNRESET']).toContain(over)
      // One closed: a connection is accepted again once the proxy has seen that close.
      held[0]!.destroy()
      const status = await soon(async () => (await one(port('capped'), get('/e')).catch(() => undefined))?.status === 200)
      expect(status).toBe(true)
      for (const socket of held) socket.destroy()
    })

    it('reads need the read token (or the admin token) when one is set; probes stay open', async () => {
      expect((await admin(proxy.adminUrl, 'GET', '/v1/services')).status).toBe(401)
      expect((await admin(proxy.adminUrl, 'GET', '/metrics', undefined, { authorization: 'Bearer wrong' })).status).toBe(401)
      expect((await admin(proxy.adminUrl, 'GET', '/v1/events')).status).toBe(401)
      expect((await admin(proxy.adminUrl, 'GET', '/v1/services', undefined, read)).status).toBe(200)
      expect((await admin(proxy.adminUrl, 'GET', '/v1/services/edge', undefined, write)).status).toBe(200)
      expect((await admin(proxy.adminUrl, 'GET', '/healthz')).status).toBe(200)
      expect((await admin(proxy.adminUrl, 'GET', '/readyz')).status).toBe(200)
      // The dashboard page loads without one; it then sends the token it is given with its reads.
      expect((await admin(proxy.adminUrl, 'GET', '/')).status).toBe(200)
      expect((await admin(proxy.adminUrl, 'GET', '/v1/services/edge/series')).status).toBe(401)
      // The read token changes nothing.
      const refused = await admin(proxy.adminUrl, 'PUT', '/v1/services/edge/weights', { weights: { live: 50, dark: 50 } }, read)
      expect(refused.status).toBe(401)
      expect((await admin(proxy.adminUrl, 'GET', '/v1/services/edge', undefined, read)).json.weights).toEqual({ live: 100, dark: 0 })
    })

    it('caps event streams: the one over admin.maxEventStreams gets 503 JSON, and a slot frees when a stream ends', async () => {
      const open = async () => {
        const socket = connect(Number(new URL(proxy.adminUrl).port), '127.0.0.1')
        let text = ''
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
        socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${READ_TOKEN}\r\n\r\n`)
        for (let waited = 0; !text.includes('\r\n\r\n'); waited += 10) {
          if (waited > 5_000) throw new Error('no answer to GET /v1/events')
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        return { socket, status: Number(text.slice(9, 12)), text }
      }
      const first = await open()
      const second = await open()
      expect([first.status, second.status]).toEqual([200, 200])
      const third = await open()
      expect(third.status).toBe(503)
      expect(third.text).toMatch(/retry-after: 5/i)
      expect(third.text).toContain('"too_many_streams"')
      third.socket.destroy()
      first.socket.destroy()
      // A slot frees once the admin server has seen the close.
      let again: Awaited<ReturnType<typeof open>> | undefined
      const reopened = await soon(async () => {
        again?.socket.destroy()
        again = await open()
        return again.status === 200
      })
      expect(reopened).toBe(true)
      second.socket.destroy()
      again!.socket.destroy()
    })

    it('refuses (409) a cut-over to a group where nothing accepts a TCP connection, and changes nothing', async () => {
      const before = (await admin(proxy.adminUrl, 'GET', '/v1/services/deadcut', undefined, read)).json
      const refused = await admin(proxy.adminUrl, 'POST', '/v1/services/deadcut/cutover', { to: 'down' }, write)
      expect(refused.status).toBe(409)
      expect(refused.json.error.code).toBe('not_ready')
      expect(refused.json.error.message).toContain('accepts a TCP connection')
      const after = (await admin(proxy.adminUrl, 'GET', '/v1/services/deadcut', undefined, read)).json
      expect(after.revision).toBe(before.revision)
      expect(after.weights).toEqual({ up: 100, down: 0 })
      expect((await one(port('deadcut'), get('/e'))).status).toBe(200)
    })

    it('after a completed cut-over the old group receives nothing, whatever headers or cookies clients send', async () => {
      const old = backend('old')
      // Before: the old group is weighted, so the override reaches it.
      expect((await one(port('lab'), get('/e', 'X-Zdd-Group: old'))).header('x-zdd-group')).toBe('old')
      const cutover = await admin(proxy.adminUrl, 'POST', '/v1/services/lab/cutover', { to: 'new', drainSeconds: 1 }, write)
      expect(cutover.status).toBe(200)
      const during = await receivedDuring(old, async () => {
        // While it drains, and after it has drained: every header and cookie combination.
        for (let round = 0; round < 2; round++) {
          for (const headers of [['X-Zdd-Group: old'], ['Cookie: zdd_group=old'], ['X-Zdd-Group: old', 'Cookie: zdd_group=old; zdd_client=c1'], []]) {
            const answer = await one(port('lab'), get('/e', ...headers))
            expect(answer.status).toBe(200)
            expect(answer.header('x-zdd-group')).toBe('new')
          }
          if (round === 0) await until(() => /"event":"cutover_completed","service":"lab"/.test(proxy.output()))
        }
      })
      expect(during).toEqual([])
    })
  })
})
