/**
 * No client can starve an instance: slow uploads hold no upstream connection (request buffering),
 * pipelined requests reach the backend one at a time and in order, a client that stops reading is
 * closed after the send timeout, and an instance at its connection and queue limits sends the
 * request elsewhere or gets a fast 503.
 */
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

/** A backend that records the order requests arrive in and how many it serves at once. */
async function orderBackend(): Promise<{ server: Server; address: string; seen: string[]; maxAtOnce: () => number }> {
  const seen: string[] = []
  let running = 0
  let most = 0
  const server = createServer((req, res) => {
    running++
    most = Math.max(most, running)
    seen.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => {
      const delay = req.method === 'POST' ? 400 : 20
      setTimeout(() => {
        running--
        res.end(`${req.method} done`)
      }, delay)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen, maxAtOnce: () => most }
}

/** Resolves with how a raw client connection ended: closed by the peer (`end`) or reset. */
function ended(socket: Socket): Promise<'closed' | 'reset'> {
  return new Promise((resolve) => {
    let reset = false
    socket.on('error', () => (reset = true))
    socket.once('close', () => resolve(reset ? 'reset' : 'closed'))
  })
}

describe('pool protection', () => {
  const sockets: Socket[] = []
  const servers: Server[] = []
  const backends: TestBackend[] = []
  const agent = new Agent({ keepAliveTimeout: 1_000 })

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy()
    await stopAll()
  })

  afterAll(async () => {
    await agent.close()
    await Promise.all(backends.map((backend) => backend.close()))
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    removeTempFiles()
  })

  it('slow uploads hold no upstream connection: another client of the group is answered meanwhile', async () => {
    const backend = await startBackend('only')
    backends.push(backend)
    // One connection to the only instance: a single slow upload holding it would block everyone.
    const proxy = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }, { limits: { connectionsPerInstance: 1, queuePerInstance: 1 } }))
    for (let i = 0; i < 300; i++) {
      const socket = connect(proxy.port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx')
      sockets.push(socket)
    }
    const drip = setInterval(() => {
      for (const socket of sockets) socket.write('x')
    }, 1_500)
    try {
      await sleep(2_000)
      const response = await request(`${proxy.url}/hello`, { dispatcher: agent, signal: AbortSignal.timeout(1_000) })
      expect(response.statusCode).toBe(200)
      expect(await response.body.text()).toBe('only')
      // None of the uploads reached the instance: their bodies are still being read.
      expect(backend.hits.get('/echo')).toBeUndefined()
    } finally {
      clearInterval(drip)
    }
  })

  it('sends a small body whole once it is read, and streams a large one', async () => {
    const backend = await startBackend('only')
    backends.push(backend)
    const proxy = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }, { limits: { requestBufferBytes: 1024 } }))
    for (const size of [10, 1024, 5000]) {
      const body = Buffer.alloc(size, 'z')
      const response = await request(`${proxy.url}/echo`, { dispatcher: agent, method: 'POST', body })
      const report = (await response.body.json()) as { bodyLength: number; method: string }
      expect(report).toMatchObject({ method: 'POST', bodyLength: size })
    }
    // Chunked, larger than the buffer: what was read is replayed, then the rest follows.
    const chunked = connect(proxy.port, '127.0.0.1')
    sockets.push(chunked)
    const answer = new Promise<string>((resolve) => {
      let text = ''
      chunked.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1')
        if (text.includes('}')) resolve(text)
      })
    })
    chunked.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')
    chunked.write(`${(900).toString(16)}\r\n${'a'.repeat(900)}\r\n`)
    await sleep(50)
    chunked.write(`${(900).toString(16)}\r\n${'b'.repeat(900)}\r\n0\r\n\r\n`)
    expect(await answer).toMatch(/"bodyLength":1800/)
  })

  it('sends pipelined requests upstream one at a time, in the order the client sent them', async () => {
    const backend = await orderBackend()
    servers.push(backend.server)
    const proxy = await startProxyProcess(serviceConfig({ a: [backend.address] }, { a: 1 }))
    const socket = connect(proxy.port, '127.0.0.1')
    sockets.push(socket)
    let text = ''
    const three = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1')
        if ((text.match(/ done/g) ?? []).length === 3) resolve()
      })
    })
    socket.write(
      'POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody' +
        'DELETE /second HTTP/1.1\r\nHost: a\r\n\r\n' +
        'PUT /third HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok',
    )
    await three
    expect(backend.seen).toEqual(['POST /first', 'DELETE /second', 'PUT /third'])
    expect(backend.maxAtOnce()).toBe(1)
    // And the client got the answers in its order too.
    expect([...text.matchAll(/(POST|DELETE|PUT) done/g)].map((match) => match[1])).toEqual(['POST', 'DELETE', 'PUT'])
  })

  it('closes a client that stops reading after the send timeout and frees its upstream connection', async () => {
    const backend = await startBackend('only')
    backends.push(backend)
    // One connection to the instance: the next request gets it only if the stalled one let it go.
    const proxy = await startProxyProcess(
      serviceConfig({ a: [backend.address] }, { a: 1 }, { limits: { connectionsPerInstance: 1 }, timeouts: { sendMs: 1_500, queueMs: 2_000, idleMs: 60_000 } }),
    )
    const socket = connect(proxy.port, '127.0.0.1')
    sockets.push(socket)
    const end = ended(socket)
    // Far sooner than the default send timeout (60 s): the configured 1.5 s closes it.
    const stalled = proxy.waitForLine(/"event":"client_stalled"/, 15_000)
    // 64 MiB: more than the kernel's socket buffers hold, so the proxy's writes back up.
    socket.write('GET /download/67108864 HTTP/1.1\r\nHost: a\r\n\r\n')
    await new Promise((resolve) => socket.once('data', resolve))
    socket.pause()
    await stalled
    socket.resume()
    expect(['closed', 'reset']).toContain(await end)
    expect(socket.bytesRead).toBeLessThan(67108864)
    const next = await request(`${proxy.url}/hello`, { dispatcher: agent, signal: AbortSignal.timeout(5_000) })
    expect(next.statusCode).toBe(200)
    expect(await next.body.text()).toBe('only')
  })

  it('an instance at its limits sends requests to a sibling with room, and with none answers 503 with Retry-After', async () => {
    const [one, two] = await Promise.all([startBackend('one'), startBackend('two')])
    backends.push(one!, two!)
    const limits = { connectionsPerInstance: 1, queuePerInstance: 1 }
    const pair = await startProxyProcess(serviceConfig({ a: [one!.address, two!.address] }, { a: 1 }, { limits }))
    const slow = (url: string) =>
      request(`${url}/slow/800`, { dispatcher: agent }).then(async (response) => ({
        status: response.statusCode,
        instance: String(response.headers['x-instance'] ?? ''),
        retryAfter: response.headers['retry-after'],
        body: await response.body.text(),
      }))
    // Two at once: each instance takes one, whatever P2C drew first.
    const both = await Promise.all([slow(pair.url), slow(pair.url)])
    expect(both.map((answer) => answer.instance).sort()).toEqual(['one', 'two'])

    const single = await startProxyProcess(serviceConfig({ a: [one!.address] }, { a: 1 }, { limits, timeouts: { queueMs: 300 } }))
    const answers = await Promise.all([slow(single.url), slow(single.url), slow(single.url)])
    const statuses = answers.map((answer) => answer.status).sort()
    // One sent, one queued past queueMs, one over the queue limit: the last two get a fast 503.
    expect(statuses).toEqual([200, 503, 503])
    for (const answer of answers.filter((each) => each.status === 503)) {
      expect(answer.retryAfter).toBe('1')
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'overloaded' } })
    }
  })
})
