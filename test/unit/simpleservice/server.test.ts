import { connect } from 'node:net'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { startSimpleService, type SimpleService, type SimpleServiceOptions } from '../../../src/simpleservice/server.js'

const running: SimpleService[] = []
const agents: Agent[] = []

async function start(options: SimpleServiceOptions = {}): Promise<SimpleService> {
  const service = await startSimpleService({ port: 0, host: '127.0.0.1', version: '0.9', ...options })
  running.push(service)
  return service
}

function agent(): Agent {
  const created = new Agent({ keepAliveTimeout: 1_000, pipelining: 0 })
  agents.push(created)
  return created
}

/** Sends `text` as Latin-1 bytes and returns everything the server sends until it closes the connection. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(text, 'latin1')))
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.on('end', () => resolve(received))
    socket.on('error', reject)
  })
}

/** A random source that returns `value` and resolves `arrived` at its first call. */
function signalOnDraw(value: number): { random: () => number; arrived: Promise<void> } {
  let resolve: () => void = () => {}
  const arrived = new Promise<void>((done) => (resolve = done))
  return {
    random: () => {
      resolve()
      return value
    },
    arrived,
  }
}

function splitResponse(response: string): { head: string[]; body: string } {
  const at = response.indexOf('\r\n\r\n')
  return { head: response.slice(0, at).split('\r\n'), body: response.slice(at + 4) }
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.close()))
  await Promise.all(agents.splice(0).map((created) => created.close()))
})

describe('simple service responses', () => {
  it('answers /endpoint0 with the exact head and body', async () => {
    const { port } = await start()
    const { head, body } = splitResponse(
      await raw(port, 'GET /endpoint0 HTTP/1.1\r\nHost: svc.test:8080\r\nConnection: close\r\n\r\n'),
    )
    expect(head[0]).toBe('HTTP/1.1 200 OK')
    expect(head).toContain('Content-Type: application/json')
    expect(head).toContain('Content-Length: 68')
    expect(body).toBe('{"host": "svc.test:8080", "version": "0.9", "result": "all is well"}')
  })

  it('reports 127.0.0.1 as host when the request has no Host header, like Tornado', async () => {
    const { port } = await start()
    const { body } = splitResponse(await raw(port, 'GET /info HTTP/1.0\r\n\r\n'))
    expect(body).toBe('{"host": "127.0.0.1", "version": "0.9", "from": "127.0.0.1"}')
  })

  it('escapes a UTF-8 Host header as Python does', async () => {
    const { port } = await start()
    const host = Buffer.from('café.test', 'utf8').toString('latin1')
    const { body } = splitResponse(await raw(port, `GET /endpoint0 HTTP/1.0\r\nHost: ${host}\r\n\r\n`))
    expect(body).toBe(String.raw`{"host": "caf\u00e9.test", "version": "0.9", "result": "all is well"}`)
  })

  it('serves /env from the given environment', async () => {
    const { port } = await start({ env: { ZDD_A: 'x', ZDD_B: 'tab\there' } })
    const response = await request(`http://127.0.0.1:${port}/env`)
    expect(await response.body.text()).toBe(String.raw`{"version": "0.9", "env": {"ZDD_A": "x", "ZDD_B": "tab\there"}}`)
  })

  it('ignores the query string and matches the raw path only', async () => {
    const { port } = await start()
    const base = `http://127.0.0.1:${port}`
    const statuses = []
    for (const path of ['/health?x=1&y', '/endpoint0/', '/endpoint%30', '/ENDPOINT0', '/']) {
      const response = await request(base + path)
      await response.body.dump()
      statuses.push(response.statusCode)
    }
    expect(statuses).toEqual([200, 404, 404, 404, 404])
  })

  it('answers other methods on known paths with 405 and Allow: GET, unknown paths with 404', async () => {
    const { port } = await start()
    const base = `http://127.0.0.1:${port}`
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'] as const) {
      const response = await request(`${base}/endpoint0`, { method })
      expect(response.statusCode).toBe(405)
      expect(response.headers.allow).toBe('GET')
      expect(response.headers['content-type']).toBe('text/html; charset=UTF-8')
      const text = await response.body.text()
      if (method !== 'HEAD') {
        expect(text).toBe('<html><title>405: Method Not Allowed</title><body>405: Method Not Allowed</body></html>')
      }
    }
    const missing = await request(`${base}/nothing`, { method: 'POST' })
    expect(missing.statusCode).toBe(404)
    expect(await missing.body.text()).toBe('<html><title>404: Not Found</title><body>404: Not Found</body></html>')
  })

  it('fails the share of /endpoint0 that the random source puts below failRate', async () => {
    const draws = [0.2, 0.7]
    const { port } = await start({ failRate: 0.5, random: () => draws.shift() ?? 0.9 })
    const first = await request(`http://127.0.0.1:${port}/endpoint0`, { headers: { host: 'h' } })
    expect(first.statusCode).toBe(500)
    expect(first.headers['content-type']).toBe('application/json')
    expect(await first.body.text()).toBe('{"host": "h", "version": "0.9", "result": "injected failure"}')
    const second = await request(`http://127.0.0.1:${port}/endpoint0`)
    expect(second.statusCode).toBe(200)
    await second.body.dump()
  })
})

describe('simple service access log', () => {
  it('writes one Tornado-style line per request', async () => {
    const lines: string[] = []
    const { port } = await start({ log: (line) => lines.push(line) })
    await (await request(`http://127.0.0.1:${port}/endpoint0?a=b`)).body.dump()
    await (await request(`http://127.0.0.1:${port}/missing`)).body.dump()
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^INFO:tornado\.access:200 GET \/endpoint0\?a=b \(127\.0\.0\.1\) \d+\.\d\dms\n$/)
    expect(lines[1]).toMatch(/^WARNING:tornado\.access:404 GET \/missing \(127\.0\.0\.1\) \d+\.\d\dms\n$/)
  })

  it('writes nothing when quiet', async () => {
    const lines: string[] = []
    const { port } = await start({ quiet: true, log: (line) => lines.push(line) })
    await (await request(`http://127.0.0.1:${port}/endpoint0`)).body.dump()
    expect(lines).toEqual([])
  })
})

describe('simple service close', () => {
  it('finishes a pending /health, closes its keep-alive connection and refuses new ones', async () => {
    // The service draws the delay when the request arrives; 0 makes it exactly healthMinMs.
    const { random, arrived } = signalOnDraw(0)
    const service = await start({ healthMinMs: 300, healthMaxMs: 400, random })
    const dispatcher = agent()
    const url = `http://127.0.0.1:${service.port}`
    // Warm a second keep-alive connection that is idle when close() starts.
    await (await request(`${url}/endpoint0`, { dispatcher: agent() })).body.dump()
    const pending = request(`${url}/health`, { dispatcher })
    await arrived
    const closed = service.close()
    const response = await pending
    expect(response.statusCode).toBe(200)
    expect(response.headers.connection).toBe('close')
    expect(await response.body.text()).toBe('{"healthy": true}')
    expect(await closed).toEqual({ drained: true })
    await expect(request(`${url}/endpoint0`, { dispatcher: agent() })).rejects.toThrow()
  })

  it('cuts what is left when the drain times out', async () => {
    const { random, arrived } = signalOnDraw(0)
    const service = await start({ healthMinMs: 30_000, healthMaxMs: 30_001, drainTimeoutMs: 100, random })
    const pending = request(`http://127.0.0.1:${service.port}/health`, { dispatcher: agent() })
    pending.catch(() => {})
    await arrived
    const outcome = await service.close()
    expect(outcome).toEqual({ drained: false })
    await expect(pending).rejects.toThrow()
  })

  it('rejects with one line when the port is taken', async () => {
    const first = await start()
    await expect(start({ port: first.port })).rejects.toThrow(`cannot listen on 127.0.0.1:${first.port}: EADDRINUSE`)
  })
})
