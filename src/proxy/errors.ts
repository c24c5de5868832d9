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

/**
 * Sends `{"error":{"code","message"}}` (with `Retry-After` when given, in seconds), or destroys the
 * connection if the response already began.
 */
export function sendError(res: ServerResponse, error: ProxyError, message: string, retryAfterSeconds?: number): void {
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
  if (retryAfterSeconds !== undefined) headers['retry-after'] = retryAfterSeconds
  res.writeHead(error.status, headers)
  res.end(body)
}
