import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** What /echo reports about the request it received. */
export interface EchoReport {
  instance: string
  method: string
  url: string
  rawHeaders: string[]
  bodyLength: number
  bodySha256: string
}

export interface TestBackend {
  readonly name: string
  readonly port: number
  readonly address: string
  /** Requests received so far, by path without query. */
  readonly hits: Map<string, number>
  /** Paths of requests whose connection closed before their response was sent. */
  readonly abandoned: string[]
  /** What `/ready` answers: 200 when true (the default), 503 when false. */
  setReady(ready: boolean): void
  close(): Promise<void>
}

/** Deterministic bytes for download tests. */
export function patternBytes(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff
  return bytes
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * A scriptable backend on 127.0.0.1:0 for proxy tests:
 * /echo (request report as JSON), /status/N, /download/BYTES, /reset-mid (headers, some body,
 * then a reset), /slow/MS, /ready (see setReady); everything else 200 with the instance name. Upgrades to `websocket`
 * answer 101 and then echo raw bytes.
 */
export async function startBackend(name: string): Promise<TestBackend> {
  const hits = new Map<string, number>()
  const abandoned: string[] = []
  let ready = true
  const sockets = new Set<Socket>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!
    hits.set(path, (hits.get(path) ?? 0) + 1)
    res.once('close', () => {
      if (!res.writableFinished) abandoned.push(path)
    })
    res.setHeader('x-instance', name)
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      length += chunk.length
    })
    req.on('end', () => {
      if (path === '/echo') {
        const report: EchoReport = {
          instance: name,
          method: req.method ?? '',
          url: req.url ?? '',
          rawHeaders: req.rawHeaders,
          bodyLength: length,
          bodySha256: hash.digest('hex'),
        }
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(report))
      } else if (path.startsWith('/status/')) {
        res.statusCode = Number(path.slice(8))
        res.end(res.statusCode === 204 || res.statusCode === 304 ? undefined : `status ${res.statusCode}`)
      } else if (path.startsWith('/download/')) {
        const body = patternBytes(Number(path.slice(10)))
        res.setHeader('content-type', 'application/octet-stream')
        res.end(body)
      } else if (path === '/reset-mid') {
        res.writeHead(200, { 'content-length': '100000' })
        res.write(Buffer.alloc(1000, 1))
        setTimeout(() => req.socket.destroy(), 50)
      } else if (path === '/ready') {
        res.statusCode = ready ? 200 : 503
        res.end(ready ? 'ready' : 'not ready')
      } else if (path.startsWith('/slow/')) {
        setTimeout(() => res.end(`slow ${name}`), Number(path.slice(6)))
      } else {
        res.end(name)
      }
    })
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key'] ?? ''
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nx-instance: ${name}\r\n\r\n`,
    )
    if (head.length > 0) socket.write(head)
    socket.on('data', (chunk: Buffer) => socket.write(chunk))
    socket.on('error', () => socket.destroy())
  })
  server.keepAliveTimeout = 1_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    hits,
    abandoned,
    setReady: (value: boolean) => {
      ready = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
