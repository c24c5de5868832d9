import type { ServerResponse } from 'node:http'

/** Stable error codes of the admin API, with their HTTP status. */
export const ADMIN_ERRORS = {
  invalid_json: 400,
  invalid_body: 400,
  invalid_weights: 400,
  invalid_if_match: 400,
  invalid_config: 400,
  unauthorized: 401,
  forbidden_origin: 403,
  forbidden_host: 403,
  not_found: 404,
  unknown_service: 404,
  no_rollout: 404,
  method_not_allowed: 405,
  not_ready: 409,
  no_config_file: 409,
  nothing_to_roll_back: 409,
  read_only: 409,
  write_conflict: 409,
  rollout_in_progress: 409,
  rollout_not_active: 409,
  no_baseline: 409,
  revision_mismatch: 412,
  body_too_large: 413,
  unsupported_media_type: 415,
  persist_failed: 500,
  internal: 500,
  too_many_streams: 503,
  store_unavailable: 503,
} as const

export type AdminErrorCode = keyof typeof ADMIN_ERRORS

/**
 * An admin API failure: thrown anywhere in the control plane, answered by the server as
 * `{"error":{"code","message"}}` with the code's status.
 */
export class HttpError extends Error {
  readonly status: number

  constructor(
    readonly code: AdminErrorCode,
    message: string,
    /** Extra response headers (e.g. Allow, WWW-Authenticate). */
    readonly headers: Readonly<Record<string, string>> = {},
    /** The config field at fault (`services[0].timeouts.connectMs`), for a config that cannot be used. */
    readonly field?: string,
  ) {
    super(message)
    this.name = 'HttpError'
    this.status = ADMIN_ERRORS[code]
  }
}

/** Writes a JSON body with the right headers; `connection: close` when the request body was not read. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** Answers with the one error shape. */
export function sendError(res: ServerResponse, error: HttpError, extraHeaders: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = error.field === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, field: error.field }
  sendJson(res, error.status, { error: body }, { ...error.headers, ...extraHeaders })
}
