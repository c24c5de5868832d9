import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2Session } from 'node:http2'
import { Server as NetServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import type { ListenerFront } from './front.js'

/** A keep-alive connection is closed once it has been idle this long. */
const IDLE_MS = 250
/** How long a half-closed connection waits for the client's own close (then it is destroyed). */
const LINGER_MS = 2_000
const SWEEP_MS = 50

interface Watched {
  bytesRead: number
  idleSince: number | undefined
}

type HttpSocket = Socket & { _httpMessage?: ServerResponse | null }

/** The response a connection is sending, as node:http keeps it (`closeIdleConnections` reads it too). */
function isBusy(socket: Socket): boolean {
  const response = (socket as HttpSocket)._httpMessage
  return response !== undefined && response !== null && !response.writableFinished
}

const discard = (): void => {}

/**
 * Closes a worker's listener for a rolling restart without resetting anyone or losing a request.
 *
 * Every response from the start of the close carries `Connection: close` (also the one being
 * produced, if its head has not gone out yet); a connection that never rests (a saturating
 * client) therefore closes right after its next response. A connection idle for IDLE_MS (no
 * response being sent, nothing read) is closed too.
 *
 * Each close is a lingering close (RFC 9112 §9.6): half-close (FIN after the last response), then
 * read and drop whatever the client still sends until its own FIN, at most LINGER_MS. Closing the
 * socket outright would make the kernel answer bytes that arrive afterwards with a reset; clients
 * that write their next request as soon as a response arrives, without looking at
 * `Connection: close` (autocannon does), would then see ECONNRESET instead of a clean end of stream
 * after which they reconnect and send again. What the client sends after the close is never
 * parsed, so never forwarded: it was not answered, and the client sends it again elsewhere.
 *
 * An HTTP/2 connection gets a GOAWAY (`session.close()`): the client opens no new stream on it,
 * the streams running finish, then it closes; a client with more to send opens a new connection
 * (elsewhere, in a cluster).
 *
 * What is still open at `graceMs` is destroyed (a worker that cannot drain still stops); upgraded
 * connections wait for that. Follows connections from construction on (one listener per
 * connection, none per request).
 */
export class GentleClose {
  readonly #sockets = new Set<Socket>()
  readonly #upgraded = new Set<Duplex>()
  readonly #lingering = new Set<Socket>()
  readonly #sessions = new Set<Http2Session>()
  #closing = false

  constructor(private readonly front: Pick<ListenerFront, 'server' | 'http' | 'h2'>) {
    const server = front.http
    front.h2?.on('session', (session: Http2Session) => {
      this.#sessions.add(session)
      if (this.#closing) session.close()
      session.once('close', () => this.#sessions.delete(session))
    })
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      // One handed over by the primary just before it heard of the close.
      if (this.#closing) this.#closeAfterResponse(socket)
      socket.once('close', () => {
        this.#sockets.delete(socket)
        this.#lingering.delete(socket)
      })
    })
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      this.#upgraded.add(socket)
      socket.once('close', () => this.#upgraded.delete(socket))
    })
  }

  /** Stops accepting; resolves once every connection is closed (by `graceMs` at the latest). */
  async close(graceMs: number): Promise<void> {
    const server = this.front.http
    // net.Server's close only stops accepting (in a worker: tells the primary to stop handing
    // connections here); http.Server's own close would also drop idle connections at once.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(this.front.server, () => resolve()))
    // Ahead of the proxy's own listener, which may answer at once.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.shouldKeepAlive = false
    })
    this.#closing = true
    for (const session of this.#sessions) session.close()
    for (const socket of this.#sockets) if (!this.#upgraded.has(socket)) this.#closeAfterResponse(socket)
    const watched = new Map<Socket, Watched>()
    const sweep = setInterval(() => {
      const now = performance.now()
      const idle: Socket[] = []
      for (const socket of this.#sockets) {
        if (this.#upgraded.has(socket) || this.#lingering.has(socket)) continue
        let state = watched.get(socket)
        if (state === undefined || isBusy(socket) || socket.bytesRead !== state.bytesRead) {
          state = { bytesRead: socket.bytesRead, idleSince: isBusy(socket) ? undefined : now }
          watched.set(socket, state)
          continue
        }
        state.idleSince ??= now
        if (now - state.idleSince >= IDLE_MS) idle.push(socket)
      }
      // Timers run before the loop reads sockets: after a stall, a request may be waiting unread.
      // Close only after this turn's reads, if still nothing came in.
      if (idle.length > 0) {
        setImmediate(() => {
          for (const socket of idle) if (!isBusy(socket) && socket.bytesRead === watched.get(socket)?.bytesRead) this.#linger(socket)
        })
      }
    }, SWEEP_MS)
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy()
      for (const socket of this.#upgraded) socket.destroy()
      for (const session of this.#sessions) session.destroy()
    }, graceMs)
    sweep.unref()
    deadline.unref()
    await closed
    clearInterval(sweep)
    clearTimeout(deadline)
    // An engine the front feeds never listened; closing it now (nothing is left to drop) stops
    // its timeout checks.
    if (server !== this.front.server) server.close()
  }

  /** The response `socket` is producing, if its head has not gone out, and every later one close it. */
  #closeAfterResponse(socket: Socket): void {
    // node:http calls destroySoon once a response with `Connection: close` has been written.
    socket.destroySoon = () => this.#linger(socket)
    const response = (socket as HttpSocket)._httpMessage
    if (response !== undefined && response !== null && !response.headersSent) response.shouldKeepAlive = false
  }

  /** Half-closes `socket` and drops what it still reads until the client closes too (RFC 9112 §9.6). */
  #linger(socket: Socket): void {
    if (this.#lingering.has(socket) || socket.destroyed) return
    this.#lingering.add(socket)
    // Detach node:http's parser: nothing read from now on becomes a request. Adding a 'data'
    // listener makes node:http stop consuming the socket natively (its own listener is gone).
    for (const listener of socket.listeners('data')) socket.removeListener('data', listener as (...args: unknown[]) => void)
    socket.on('data', discard)
    socket.once('end', () => socket.destroy())
    const timer = setTimeout(() => socket.destroy(), LINGER_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
    socket.end()
    socket.resume()
  }
}
