/**
 * How a listener takes its connections and which engine serves each: node:http for HTTP/1.1,
 * node:http2 (its compatibility API) for HTTP/2. The engines never listen themselves; the front
 * hands them their connections.
 *
 * ```
 * plain  http.Server listens itself ───────────────────────────────> HTTP/1.1 engine
 * h2c    net.Server ── first bytes are the HTTP/2 preface? ── yes ──> HTTP/2 engine
 *                                                         └─ no ───> HTTP/1.1 engine
 * tls    tls.Server ── ALPN chose h2? ── yes ──────────────────────> HTTP/2 engine
 *                                    └─ no (http/1.1, none) ───────> HTTP/1.1 engine
 * ```
 */
import type { Server } from 'node:http'
import { createServer as createHttp2Server, type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import { SniContexts, type ListenerCertificates } from './tls.js'

/** How long a TLS handshake may take. */
const HANDSHAKE_MS = 10_000
/** An HTTP/2 connection without a stream for this long is closed (GOAWAY), as a keep-alive one is. */
const H2_IDLE_MS = 30_000
/** Streams one HTTP/2 connection may have open at once (nginx and HAProxy allow 128 and 100). */
const H2_MAX_STREAMS = 128
/** HTTP/2 header limits above the proxy's own, so the proxy answers 431 itself as for HTTP/1.1. */
const H2_HEADER_PAIRS = 256
const H2_HEADER_LIST_BYTES = 64 * 1024

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/** Streams open on an HTTP/2 connection, for its idle close. */
const OPEN_STREAMS = Symbol('zdd.openStreams')
type CountedSession = Http2Session & { [OPEN_STREAMS]?: number }

export type FrontKind = 'plain' | 'h2c' | 'tls'

/** An HTTP/2 engine with the proxy's settings; requests go to its 'request' listeners. */
export function createH2Engine(): Http2Server {
  const engine = createHttp2Server({
    maxHeaderListPairs: H2_HEADER_PAIRS,
    settings: { maxConcurrentStreams: H2_MAX_STREAMS, maxHeaderListSize: H2_HEADER_LIST_BYTES, enablePush: false },
  })
  engine.on('session', (session: CountedSession) => {
    session[OPEN_STREAMS] = 0
    session.setTimeout(H2_IDLE_MS, () => {
      if (session[OPEN_STREAMS] === 0) session.close()
    })
    // A broken connection ends its streams; their requests see that. Nothing else to do.
    session.on('error', () => {})
  })
  engine.on('stream', (stream: ServerHttp2Stream) => {
    const session = stream.session as CountedSession | undefined
    if (session === undefined) return
    session[OPEN_STREAMS]!++
    stream.once('close', () => session[OPEN_STREAMS]!--)
  })
  return engine
}

/**
 * The listening side of one listener. `server` is what listens (and counts connections against
 * maxConnections); it is the HTTP/1.1 engine itself for a plain listener.
 */
export class ListenerFront {
  readonly server: NetServer
  #sni: SniContexts | undefined

  constructor(
    readonly kind: FrontKind,
    readonly http: Server,
    readonly h2: Http2Server | undefined,
    certificates?: ListenerCertificates,
  ) {
    if (kind === 'plain') this.server = http
    else if (kind === 'h2c') this.server = createNetServer((socket) => this.#sniff(socket))
    else {
      const sni = new SniContexts(certificates!)
      this.#sni = sni
      const server: TlsServer = createTlsServer(
        {
          ...sni.fallback,
          ALPNProtocols: h2 === undefined ? ['http/1.1'] : ['h2', 'http/1.1'],
          SNICallback: (servername, callback) => callback(null, this.#sni?.contextFor(servername)),
          handshakeTimeout: HANDSHAKE_MS,
        },
        (socket: TLSSocket) => {
          if (socket.alpnProtocol === 'h2' && this.h2 !== undefined) this.h2.emit('connection', socket)
          else this.http.emit('connection', socket)
        },
      )
      // A failed handshake (a scanner, an old client) concerns that connection only.
      server.on('tlsClientError', () => {})
      this.server = server
    }
  }

  /** New handshakes use `certificates`; established connections keep theirs. */
  setCertificates(certificates: ListenerCertificates): void {
    if (this.kind !== 'tls') return
    const sni = new SniContexts(certificates)
    ;(this.server as TlsServer).setSecureContext(sni.fallback)
    this.#sni = sni
  }

  /** Starts listening; resolves with the bound port. */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    // node:http runs its header and request timeouts (slowloris) only once it saw 'listening';
    // an engine fed by the front never listens itself.
    if (this.server !== this.http) this.http.emit('listening')
    const address = this.server.address()
    return typeof address === 'object' && address !== null ? address.port : port
  }

  /** A cleartext connection: HTTP/2 when it opens with the preface (prior knowledge), else HTTP/1.1. */
  #sniff(socket: Socket): void {
    let seen: Buffer = Buffer.alloc(0)
    socket.setTimeout(HANDSHAKE_MS, () => socket.destroy())
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk])
      const compared = Math.min(seen.length, PREFACE.length)
      const h2 = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared))
      if (h2 && compared < PREFACE.length) return // Not enough yet to tell.
      socket.off('data', onData)
      socket.off('error', onError)
      socket.setTimeout(0)
      socket.pause()
      socket.unshift(seen)
      if (h2) this.h2!.emit('connection', socket)
      else {
        this.http.emit('connection', socket)
        // node:http reads the socket's handle directly; what was unshifted comes through 'data'.
        socket.resume()
      }
    }
    const onError = () => socket.destroy()
    socket.on('data', onData)
    socket.on('error', onError)
  }
}
