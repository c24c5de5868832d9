import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/** One request exactly as the proxy sent it upstream. */
export interface RawRequest {
  /** The request line and header lines, without the blank line. */
  readonly head: string
  readonly requestLine: string
  /** Header lines as sent: name as written, value trimmed. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

/** Writes the answer to `request` on `socket` (or nothing, to hang). */
export type RawScript = (request: RawRequest, socket: Socket) => void

export interface RawBackend {
  readonly port: number
  readonly address: string
  /** Every request received, in order. */
  readonly received: RawRequest[]
  close(): Promise<void>
}

/** Values of the header `name` (any case) in a received request. */
export function headerValues(request: RawRequest, name: string): string[] {
  const wanted = name.toLowerCase()
  return request.headers.filter(([key]) => key.toLowerCase() === wanted).map(([, value]) => value)
}

/**
 * A backend that speaks HTTP/1.1 by hand on 127.0.0.1:0: it records the bytes of every request
 * (Content-Length or chunked bodies) and lets `script` write any answer, including ones no HTTP
 * library would produce (1xx before a final answer, a 304 with Content-Length, status 999).
 */
export async function startRawBackend(script: RawScript): Promise<RawBackend> {
  const received: RawRequest[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = Buffer.alloc(0)
    let upgraded = false
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) {
        socket.write(chunk)
        return
      }
      buffered = Buffer.concat([buffered, chunk])
      for (;;) {
        const parsed = parseRequest(buffered)
        if (parsed === undefined) return
        buffered = buffered.subarray(parsed.consumed)
        received.push(parsed.request)
        script(parsed.request, socket)
        if (/^[^\r\n]*upgrade/i.test(parsed.request.headers.find(([key]) => key.toLowerCase() === 'connection')?.[1] ?? '')) {
          // After a 101 the connection carries raw bytes: echo them.
          upgraded = true
          if (buffered.length > 0) socket.write(buffered)
          return
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    address: `127.0.0.1:${port}`,
    received,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function parseRequest(data: Buffer): { request: RawRequest; consumed: number } | undefined {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = data.subarray(0, end).toString('latin1')
  const [requestLine = '', ...lines] = head.split('\r\n')
  const headers = lines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon), line.slice(colon + 1).trim()] as const
  })
  const value = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1]
  let offset = end + 4
  let body = Buffer.alloc(0)
  if (/chunked/i.test(value('transfer-encoding') ?? '')) {
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = data.indexOf('\r\n', offset)
      if (lineEnd < 0) return undefined
      const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16)
      if (size === 0) {
        const trailerEnd = data.indexOf('\r\n\r\n', lineEnd)
        if (trailerEnd < 0) return undefined
        offset = trailerEnd + 4
        break
      }
      if (data.length < lineEnd + 2 + size + 2) return undefined
      parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
      offset = lineEnd + 2 + size + 2
    }
    body = Buffer.concat(parts)
  } else {
    const length = Number(value('content-length') ?? 0)
    if (data.length < offset + length) return undefined
    body = Buffer.from(data.subarray(offset, offset + length))
    offset += length
  }
  return { request: { head, requestLine, headers, body }, consumed: offset }
}
