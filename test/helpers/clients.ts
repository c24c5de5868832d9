/**
 * One request function for every way a client reaches the proxy, so a suite runs the same checks
 * over each: HTTP/1.1 (plain or TLS), HTTP/2 over TLS (ALPN), HTTP/2 with prior knowledge (h2c).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

export type Protocol = 'http/1.1' | 'https/1.1' | 'h2' | 'h2c'

export interface Answer {
  readonly status: number
  /** Lower-case names; `set-cookie` is always an array. */
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** `1.1` or `2.0`, as the client saw it. */
  readonly version: string
}

export interface RequestInit {
  readonly method?: string
  readonly headers?: Record<string, string | string[]>
  readonly body?: Buffer
  /** Aborts the request once this settles (the request's promise then rejects). */
  readonly abortWhen?: Promise<unknown>
}

/** A client for one protocol and one proxy port; `close()` ends its connections. */
export interface ProtocolClient {
  readonly protocol: Protocol
  request(path: string, init?: RequestInit): Promise<Answer>
  close(): void
}

export function protocolClient(protocol: Protocol, port: number, ca?: string, servername?: string): ProtocolClient {
  if (protocol === 'h2' || protocol === 'h2c') return h2Client(protocol, port, ca, servername)
  const tls = protocol === 'https/1.1'
  const agent = tls ? new HttpsAgent({ keepAlive: true, ca, servername }) : new HttpAgent({ keepAlive: true })
  return {
    protocol,
    request(path, init = {}) {
      return new Promise((resolve, reject) => {
        const send = tls ? httpsRequest : httpRequest
        const req = send({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => {
            const headers = { ...res.headers }
            if (headers['set-cookie'] === undefined) delete headers['set-cookie']
            resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks), version: res.httpVersion })
          })
          res.on('error', reject)
        })
        req.on('error', reject)
        void init.abortWhen?.finally(() => req.destroy(new Error('aborted by the test')))
        req.end(init.body)
      })
    },
    close() {
      agent.destroy()
    },
  }
}

function h2Client(protocol: 'h2' | 'h2c', port: number, ca?: string, servername?: string): ProtocolClient {
  let session: ClientHttp2Session | undefined
  const open = () => {
    if (session === undefined || session.closed || session.destroyed) {
      session = protocol === 'h2' ? h2connect(`https://127.0.0.1:${port}`, { ca, servername }) : h2connect(`http://127.0.0.1:${port}`)
      session.on('error', () => {})
    }
    return session
  }
  return {
    protocol,
    request(path, init = {}) {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | string[]> = { ':method': init.method ?? 'GET', ':path': path, ...init.headers }
        const stream = open().request(headers, { endStream: init.body === undefined })
        const chunks: Buffer[] = []
        let status = 0
        let answerHeaders: IncomingHttpHeaders = {}
        stream.on('response', (received) => {
          status = Number(received[':status'])
          const copy: IncomingHttpHeaders = {}
          for (const [name, value] of Object.entries(received)) if (!name.startsWith(':')) (copy as Record<string, unknown>)[name] = value
          answerHeaders = copy
        })
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => resolve({ status, headers: answerHeaders, body: Buffer.concat(chunks), version: '2.0' }))
        stream.on('error', reject)
        stream.on('close', () => {
          if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset (${stream.rstCode})`))
        })
        void init.abortWhen?.finally(() => {
          stream.close(constants.NGHTTP2_CANCEL)
          reject(new Error('aborted by the test'))
        })
        if (init.body !== undefined) stream.end(init.body)
      })
    },
    close() {
      session?.destroy()
    },
  }
}

/** An HTTP/2 request with exactly these headers (pseudo-headers included), for what the helpers above would fix up. */
export function rawH2Request(port: number, ca: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { ca })
    session.on('error', reject)
    const stream = session.request(headers)
    let status = 0
    let body = ''
    stream.on('response', (received) => (status = Number(received[':status'])))
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()))
    stream.on('end', () => {
      session.close()
      resolve({ status, body })
    })
    stream.on('error', reject)
  })
}
