import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** What a request id passed on by a trusted proxy may look like: visible ASCII, not too long. */
const PASSED_ID = /^[\x21-\x7e]{1,200}$/

/**
 * Request ids for `X-Request-Id`: a random prefix per listener and a counter. Unique enough to find
 * one request in the proxy's log and the backend's, and made with one string concatenation (a
 * random id per request would cost a few % CPU, as the sticky id did).
 */
export class RequestIds {
  readonly #prefix = `${randomBytes(6).toString('base64url')}-`
  #count = 0

  /** The id a trusted proxy sent, or a new one. */
  of(req: IncomingMessage, peerTrusted: boolean): string {
    if (peerTrusted) {
      const passed = req.headers['x-request-id']
      if (typeof passed === 'string' && PASSED_ID.test(passed)) return passed
    }
    return this.#prefix + String(++this.#count)
  }
}
