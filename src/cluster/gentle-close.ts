import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { Server as NetServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'

/** A keep-alive connection is closed once it has been idle this long. */
const IDLE_MS = 250
/** Connections still busy after this get `Connection: close` on their next response. */
const FORCE_MS = 1_000
const SWEEP_MS = 50

interface Watched {
  bytesRead: number
  idleSince: number | undefined
}

/** The response a connection is sending, as node:http keeps it (`closeIdleConnections` reads it too). */
function isBusy(socket: Socket): boolean {
  const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  return response !== undefined && response !== null && !response.writableFinished
}

/**
 * Closes a worker's listener for a rolling restart without resetting anyone. `server.close()`
 * drops idle keep-alive connections at once, and a client that sends its next request at that
 * moment sees a reset; here each connection is closed only after it has been idle for a while
 * (no response being sent, nothing read), which a client between requests is. A connection
 * that never rests (a saturating client) gets `Connection: close` on its next response after
 * FORCE_MS; what is still open at `graceMs` is destroyed. Upgraded connections wait for that too.
 *
 * Follows connections from construction on (one listener per connection, none per request).
 */
export class GentleClose {
  readonly #sockets = new Set<Socket>()
  readonly #upgraded = new Set<Duplex>()

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      this.#upgraded.add(socket)
      socket.once('close', () => this.#upgraded.delete(socket))
    })
  }

  /** Stops accepting; resolves once every connection is closed (by `graceMs` at the latest). */
  async close(graceMs: number): Promise<void> {
    const server = this.server
    // net.Server's close only stops accepting (in a worker: tells the primary to stop handing
    // connections here); http.Server's own close would also drop idle connections at once.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()))
    const startedAt = performance.now()
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (performance.now() - startedAt >= FORCE_MS) res.shouldKeepAlive = false
    })
    const watched = new Map<Socket, Watched>()
    const sweep = setInterval(() => {
      const now = performance.now()
      const idle: Socket[] = []
      for (const socket of this.#sockets) {
        if (this.#upgraded.has(socket)) continue
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
          for (const socket of idle) if (!isBusy(socket) && socket.bytesRead === watched.get(socket)?.bytesRead) socket.destroy()
        })
      }
    }, SWEEP_MS)
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy()
      for (const socket of this.#upgraded) socket.destroy()
    }, graceMs)
    sweep.unref()
    deadline.unref()
    await closed
    clearInterval(sweep)
    clearTimeout(deadline)
  }
}
