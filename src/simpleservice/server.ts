import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import {
  accessLogLine,
  drawHealthDelay,
  endpoint0Body,
  envBody,
  HEALTHY_BODY,
  infoBody,
  injectedFailureBody,
  METHOD_NOT_ALLOWED_PAGE,
  NOT_FOUND_PAGE,
  peerIp,
  requestHost,
} from './responses.js'
import { DEFAULT_SETTINGS, type SimpleServiceSettings } from './settings.js'

/** How to run an embedded simple service; unset fields take the original's defaults. */
export interface SimpleServiceOptions extends Partial<SimpleServiceSettings> {
  /** Receives one access-log line (with its newline) per request unless `quiet`; none when unset. */
  readonly log?: (line: string) => void
  /** Source of randomness in [0, 1) for the health delay and `failRate`; default `Math.random`. */
  readonly random?: () => number
  /** What `GET /env` reports; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** How long `close()` waits for in-flight requests before cutting connections; default 30 s. */
  readonly drainTimeoutMs?: number
}

/** How a `close()` ended. */
export interface CloseOutcome {
  /** False when the drain timed out and open connections were cut. */
  readonly drained: boolean
}

/** A running simple service. */
export interface SimpleService {
  /** The port actually bound (useful with port 0). */
  readonly port: number
  readonly settings: SimpleServiceSettings
  /**
   * Stops accepting, lets in-flight requests (a pending `/health` delay too) finish, closes idle
   * keep-alive connections and answers later requests on busy ones with `Connection: close`.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<CloseOutcome>
}

const JSON_TYPE = 'application/json'
const HTML_TYPE = 'text/html; charset=UTF-8'

/** Starts the simple service and resolves once it listens. Rejects when it cannot bind. */
export async function startSimpleService(options: SimpleServiceOptions = {}): Promise<SimpleService> {
  const settings: SimpleServiceSettings = Object.freeze({
    port: options.port ?? DEFAULT_SETTINGS.port,
    host: options.host ?? DEFAULT_SETTINGS.host,
    version: options.version ?? DEFAULT_SETTINGS.version,
    healthMinMs: options.healthMinMs ?? DEFAULT_SETTINGS.healthMinMs,
    healthMaxMs: options.healthMaxMs ?? DEFAULT_SETTINGS.healthMaxMs,
    failRate: options.failRate ?? DEFAULT_SETTINGS.failRate,
    latencyMs: options.latencyMs ?? DEFAULT_SETTINGS.latencyMs,
    quiet: options.quiet ?? DEFAULT_SETTINGS.quiet,
  })
  const { version, healthMinMs, healthMaxMs, failRate, latencyMs } = settings
  const log = settings.quiet ? undefined : options.log
  const random = options.random ?? Math.random
  const env = options.env ?? process.env
  let closing = false
  // Delayed responses, so a drain can drop the timers of clients that already left.
  const delayed = new Map<ServerResponse, NodeJS.Timeout>()

  function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, start: number) {
    // Every body is ASCII (Python's ensure_ascii, fixed HTML), so its length is its byte count.
    const headers: OutgoingHttpHeaders = { 'Content-Type': type, 'Content-Length': body.length }
    if (status === 405) headers.Allow = 'GET'
    // Node then ends the connection after this response, so busy keep-alive connections drain too.
    if (closing) headers.Connection = 'close'
    res.writeHead(status, headers)
    res.end(body)
    if (log !== undefined) {
      log(accessLogLine(status, req.method ?? '', req.url ?? '', peerIp(req.socket.remoteAddress), performance.now() - start))
    }
  }

  function sendEndpoint0(req: IncomingMessage, res: ServerResponse, start: number, fail: boolean) {
    if (latencyMs > 0) delayed.delete(res)
    const host = requestHost(req.headers.host)
    if (fail) send(req, res, 500, JSON_TYPE, injectedFailureBody(host, version), start)
    else send(req, res, 200, JSON_TYPE, endpoint0Body(host, version), start)
  }

  function sendHealth(req: IncomingMessage, res: ServerResponse, start: number) {
    delayed.delete(res)
    send(req, res, 200, JSON_TYPE, HEALTHY_BODY, start)
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const start = log === undefined ? 0 : performance.now()
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    // Tornado matches routes on the raw path, without the query and without decoding.
    const path = query === -1 ? url : url.slice(0, query)
    if (path !== '/endpoint0' && path !== '/health' && path !== '/info' && path !== '/env') {
      send(req, res, 404, HTML_TYPE, NOT_FOUND_PAGE, start)
      return
    }
    if (req.method !== 'GET') {
      send(req, res, 405, HTML_TYPE, METHOD_NOT_ALLOWED_PAGE, start)
      return
    }
    if (path === '/endpoint0') {
      const fail = failRate > 0 && random() < failRate
      if (latencyMs > 0) delayed.set(res, setTimeout(sendEndpoint0, latencyMs, req, res, start, fail))
      else sendEndpoint0(req, res, start, fail)
    } else if (path === '/health') {
      // Drawn per request; a timer, unlike the original's time.sleep, keeps serving others meanwhile.
      const delay = drawHealthDelay(healthMinMs, healthMaxMs, random)
      if (delay > 0) delayed.set(res, setTimeout(sendHealth, delay, req, res, start))
      else sendHealth(req, res, start)
    } else if (path === '/info') {
      const body = infoBody(requestHost(req.headers.host), version, peerIp(req.socket.remoteAddress))
      send(req, res, 200, JSON_TYPE, body, start)
    } else {
      send(req, res, 200, JSON_TYPE, envBody(version, env), start)
    }
  }

  const server = createServer(handle)
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new Error(`cannot listen on ${settings.host}:${settings.port}: ${error.code ?? error.message}`))
    }
    server.once('error', onError)
    server.listen(settings.port, settings.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  let closed: Promise<CloseOutcome> | undefined
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000
  function close(): Promise<CloseOutcome> {
    closed ??= new Promise<CloseOutcome>((resolve) => {
      closing = true
      let drained = true
      const timer = setTimeout(() => {
        drained = false
        server.closeAllConnections()
      }, drainTimeoutMs)
      server.close(() => {
        clearTimeout(timer)
        // Only responses to clients that are gone can still be waiting here.
        for (const pending of delayed.values()) clearTimeout(pending)
        delayed.clear()
        resolve({ drained })
      })
      // Node 19+ does this inside close(); said explicitly because the drain relies on it.
      server.closeIdleConnections()
    })
    return closed
  }

  return { port, settings, close }
}
