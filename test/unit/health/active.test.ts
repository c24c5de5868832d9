import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { healthOutcome, probe, readinessOutcome, type ProbeTarget } from '../../../src/health/active.js'

/** A scripted HTTP server: /status/N answers N, /processing sends 102 and nothing else, /hang never answers. */
function scriptedServer(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/'
    if (path.startsWith('/status/')) {
      res.statusCode = Number(path.slice(8))
      res.end()
    } else if (path === '/processing') {
      res.writeProcessing()
    }
    // /hang: no answer at all.
  })
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

describe('active probes against real servers', () => {
  const server = scriptedServer()
  const sockets = new Set<Socket>()
  let port = 0
  let closedPort = 0

  beforeAll(async () => {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    port = await listen(server)
    // A port that was just free: connecting to it is refused.
    const spare = createTcpServer()
    closedPort = await listen(spare)
    await new Promise<void>((resolve) => spare.close(() => resolve()))
  })

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const http = (path: string, timeoutMs = 1_000): ProbeTarget => ({ protocol: 'http', host: '127.0.0.1', port, path, timeoutMs })

  const statusCases: { status: number; outcome: string }[] = [
    { status: 200, outcome: 'pass' },
    { status: 204, outcome: 'pass' },
    { status: 301, outcome: 'pass' },
    { status: 399, outcome: 'pass' },
    { status: 404, outcome: 'fail' },
    { status: 503, outcome: 'fail' },
  ]
  for (const { status, outcome } of statusCases) {
    it(`reads ${status} as ${outcome}`, async () => {
      const result = await probe(http(`/status/${status}`))
      expect(result).toEqual({ kind: 'status', status })
      expect(healthOutcome(result, false).outcome).toBe(outcome)
    })
  }

  it('reads an informational answer as failed, or ignored with ignoreHttp1xx', async () => {
    const result = await probe(http('/processing'))
    expect(result).toEqual({ kind: 'status', status: 102 })
    expect(healthOutcome(result, false).outcome).toBe('fail')
    expect(healthOutcome(result, true).outcome).toBe('ignored')
  })

  it('fails after the timeout when nothing answers, and leaves no connection open', async () => {
    const result = await probe(http('/hang', 200))
    expect(result).toEqual({ kind: 'error', reason: 'no response within 200 ms' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sockets.size).toBe(0)
  })

  it('ends at once with an aborted result when its signal aborts, closing the connection', async () => {
    const controller = new AbortController()
    const pending = probe(http('/hang', 10_000), controller.signal)
    await new Promise((resolve) => setTimeout(resolve, 50))
    controller.abort()
    expect(await pending).toEqual({ kind: 'error', reason: 'aborted' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sockets.size).toBe(0)
  })

  it('closes its connection after an answer', async () => {
    await probe(http('/status/200'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sockets.size).toBe(0)
  })

  it('fails when the connection is refused', async () => {
    const result = await probe({ protocol: 'http', host: '127.0.0.1', port: closedPort, path: '/', timeoutMs: 1_000 })
    expect(result).toEqual({ kind: 'error', reason: 'ECONNREFUSED' })
    expect(healthOutcome(result, false)).toEqual({ outcome: 'fail', detail: 'ECONNREFUSED' })
  })

  it('TCP: passes on connect, fails when refused', async () => {
    const open = await probe({ protocol: 'tcp', host: '127.0.0.1', port, path: '/', timeoutMs: 1_000 })
    expect(healthOutcome(open, false).outcome).toBe('pass')
    const refused = await probe({ protocol: 'tcp', host: '127.0.0.1', port: closedPort, path: '/', timeoutMs: 1_000 })
    expect(healthOutcome(refused, false).outcome).toBe('fail')
  })

  it('readiness passes only on httpStatusCodesForReady', async () => {
    expect(readinessOutcome(await probe(http('/status/200')), [200]).ready).toBe(true)
    expect(readinessOutcome(await probe(http('/status/204')), [200]).ready).toBe(false)
    expect(readinessOutcome(await probe(http('/status/503')), [200, 503]).ready).toBe(true)
  })
})
