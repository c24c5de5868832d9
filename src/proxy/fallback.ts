/**
 * The path for a backend that answers `100 Continue` unasked. RFC 9110 §15.2 says a client must
 * accept a 1xx it did not expect; undici instead drops the connection ("bad response"). So such a
 * request, when it is idempotent (the instance may have acted on it already) and its body can be
 * sent again, goes once more through node:http, which skips 1xx answers, and its final answer is
 * relayed. Rare by nature: no pool, one connection per request.
 */
import { request, type IncomingMessage } from 'node:http'
import type { Instance } from '../upstream/instance.js'

/** undici's error for an interim answer it would not take. */
export function isRefusedInterim(error: Error): boolean {
  return (error as { code?: unknown }).code === 'UND_ERR_SOCKET' && error.message === 'bad response'
}

/** Methods RFC 9110 §9.2.2 calls idempotent: sending one twice has the effect of sending it once. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** Whether a request whose first answer undici refused may be sent to the instance again. */
export function mayResend(method: string): boolean {
  return IDEMPOTENT.has(method)
}

/** What the fallback reports back to its exchange. */
export interface FallbackHandler {
  onFallbackResponse(response: IncomingMessage): void
  onFallbackError(error: Error): void
}

/** Sends the request to `instance` through node:http, skipping 1xx answers; gives up after `timeoutMs` without an answer. */
export function sendThroughNodeHttp(
  instance: Instance,
  method: string,
  path: string,
  headers: readonly string[],
  body: Buffer | null,
  timeoutMs: number,
  handler: FallbackHandler,
): () => void {
  // The flat [name, value, …] list, as rawHeaders are: node:http takes it as it is.
  const req = request({ host: instance.host, port: instance.port, method, path, agent: false, headers: [...headers] })
  const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), timeoutMs)
  timer.unref()
  req.once('response', (response) => {
    clearTimeout(timer)
    handler.onFallbackResponse(response)
  })
  req.once('error', (error) => {
    clearTimeout(timer)
    handler.onFallbackError(error)
  })
  req.end(body ?? undefined)
  return () => req.destroy()
}
