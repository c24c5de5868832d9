import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EventBus, ZddEvent } from '../support/events.js'
import { HttpError } from './http-errors.js'

/** A comment line every so often keeps idle proxies and load balancers from closing the stream. */
const HEARTBEAT_MS = 15_000
/** A client that lets this much pile up unread is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * Server-Sent Events like Marathon's event bus: `event: <eventType>` and `data: <json>` per event,
 * comment heartbeats, optional `?event_type=a&event_type=b` filter. Closing the connection
 * unsubscribes. At most `maxStreams` are open at once: each holds a socket and a subscriber.
 */
export class EventStream {
  readonly #clients = new Set<ServerResponse>()

  constructor(
    private readonly events: EventBus,
    private readonly maxStreams: number,
  ) {}

  open(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'HEAD' && this.#clients.size >= this.maxStreams) {
      throw new HttpError('too_many_streams', `${this.maxStreams} event streams are open already (admin.maxEventStreams)`, {
        'retry-after': '5',
      })
    }
    const wanted = url.searchParams.getAll('event_type')
    const filter = wanted.length > 0 ? new Set(wanted) : undefined
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // The stream is the connection's last response: ending it closes the socket (fast shutdown).
      connection: 'close',
      'x-accel-buffering': 'no',
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    res.write(': zdd-proxy events\n\n')
    this.#clients.add(res)
    const unsubscribe = this.events.subscribe((event: ZddEvent) => {
      if (filter !== undefined && !filter.has(event.eventType)) return
      res.write(`event: ${event.eventType}\ndata: ${JSON.stringify(event)}\n\n`)
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy()
    })
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS)
    heartbeat.unref()
    const close = () => {
      clearInterval(heartbeat)
      unsubscribe()
      this.#clients.delete(res)
    }
    res.once('close', close)
    req.socket.setTimeout(0)
  }

  /** Ends every stream (shutdown); clients see the end of the response. */
  closeAll(): void {
    for (const res of this.#clients) res.end()
    this.#clients.clear()
  }
}
