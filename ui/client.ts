/**
 * Calls to the admin API from the page, with the token kept in this tab when one was typed
 * (sessionStorage, sent as a Bearer header, never in a URL): mutations need it, and reads too on a
 * proxy with `admin.readToken`. Every failure becomes an
 * ApiError carrying the API's code and message, so the page can show it as it is.
 */
import type { ErrorWire } from './wire.js'

const TOKEN_KEY = 'zdd-proxy.admin-token'

/** An admin API refusal, or a failure to reach it (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/**
 * The admin token of this tab: undefined while the page is read-only; an empty string when the
 * user said the proxy has none (a loopback admin listener without a token).
 */
export const session = {
  get token(): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined
  },
  set token(value: string | undefined) {
    if (value === undefined) sessionStorage.removeItem(TOKEN_KEY)
    else sessionStorage.setItem(TOKEN_KEY, value)
  },
}

async function call<T>(method: string, path: string, init: { body?: unknown; ifMatch?: number; signal?: AbortSignal } = {}): Promise<T> {
  const headers = readHeaders({ accept: 'application/json' })
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  if (init.ifMatch !== undefined) headers['if-match'] = `"${init.ifMatch}"`
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: init.body === undefined ? null : JSON.stringify(init.body),
      cache: 'no-store',
      credentials: 'omit',
      ...(init.signal === undefined ? {} : { signal: init.signal }),
    })
  } catch (error) {
    throw new ApiError(0, 'unreachable', `cannot reach the proxy's admin API (${(error as Error).message})`)
  }
  const text = await response.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    throw new ApiError(response.status, 'bad_answer', `${method} ${path} answered ${response.status} with a body that is not JSON`)
  }
  if (!response.ok) {
    const error = (json as Partial<ErrorWire> | undefined)?.error
    throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `${method} ${path} answered ${response.status}`)
  }
  return json as T
}

/** `headers` plus the tab's token, when it holds one. */
export function readHeaders(headers: Record<string, string>): Record<string, string> {
  const token = session.token
  return token !== undefined && token !== '' ? { ...headers, authorization: `Bearer ${token}` } : headers
}

/** GET a JSON resource of the admin API. */
export function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return call<T>('GET', path, signal === undefined ? {} : { signal })
}

/** PUT or POST a change; `ifMatch` is the revision the change was made from. */
export function mutate<T>(method: 'PUT' | 'POST', path: string, body: unknown, ifMatch?: number): Promise<T> {
  return call<T>(method, path, ifMatch === undefined ? { body } : { body, ifMatch })
}

/** `/v1/services/<name>…` with the name escaped as one path segment. */
export function servicePath(name: string, rest = ''): string {
  return `/v1/services/${encodeURIComponent(name)}${rest}`
}
