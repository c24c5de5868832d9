import type { ServerResponse } from 'node:http'
import type { FailureKind } from '../upstream/outcomes.js'

/** Every error the data plane answers itself, with its status and a stable code. */
export const ProxyErrors = Object.freeze({
  noLiveInstance: { status: 503, code: 'no_live_instance' },
  unknownHost: { status: 404, code: 'unknown_host' },
  connectFailed: { status: 502, code: 'upstream_connect_failed' },
  upstreamReset: { status: 502, code: 'upstream_reset' },
  upstreamError: { status: 502, code: 'upstream_error' },
  upstreamTimeout: { status: 504, code: 'upstream_timeout' },
  badRequest: { status: 400, code: 'bad_request' },
  methodNotAllowed: { status: 405, code: 'method_not_allowed' },
  uriTooLong: { status: 414, code: 'uri_too_long' },
  headersTooLarge: { status: 431, code: 'headers_too_large' },
  /** Every instance that could take the request is at its connection and queue limits. */
  overloaded: { status: 503, code: 'overloaded' },
} as const)

export type ProxyError = (typeof ProxyErrors)[keyof typeof ProxyErrors]

/** The answer to a failed request whose response has not started. */
export function errorForFailure(kind: FailureKind): ProxyError {
  switch (kind) {
    case 'connect':
      return ProxyErrors.connectFailed
    case 'timeout':
      return ProxyErrors.upstreamTimeout
    case 'reset':
      return ProxyErrors.upstreamReset
    default:
      return ProxyErrors.upstreamError
  }
}

/** What a client is told about a failed attempt: no instance, no address (those are in the log). */
export function clientMessageFor(kind: FailureKind): string {
  switch (kind) {
    case 'connect':
      return 'the service could not be reached'
    case 'timeout':
      return 'the service did not answer in time'
    case 'reset':
      return 'the connection to the service broke'
    default:
      return 'the service sent an answer that could not be passed on'
  }
}

/** What an error answer may add: `Retry-After` (seconds) and the request's id. */
export interface ErrorExtras {
  readonly retryAfterSeconds?: number
  readonly requestId?: string
}

/**
 * Sends `{"error":{"code","message"}}`, or destroys the connection if the response already began.
 * Messages name no instance and no address: those go to the log, under the request id.
 */
export function sendError(res: ServerResponse, error: ProxyError, message: string, extras?: ErrorExtras): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ error: { code: error.code, message } })
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  }
  if (extras?.retryAfterSeconds !== undefined) headers['retry-after'] = extras.retryAfterSeconds
  if (extras?.requestId !== undefined) headers['x-request-id'] = extras.requestId
  res.writeHead(error.status, headers)
  res.end(body)
}
