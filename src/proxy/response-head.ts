/**
 * The head of an instance's answer as the client gets it: its reason phrase only where HTTP has one
 * (HTTP/2 has none), and the answers that are whole with their head.
 */
import type { ServerResponse } from 'node:http'

/** Writes the response head; HTTP/2 has no reason phrase. */
export function writeHead(res: ServerResponse, h2: boolean, statusCode: number, statusMessage: string | undefined, headers: string[]): void {
  if (statusMessage && !h2) res.writeHead(statusCode, statusMessage, headers)
  else res.writeHead(statusCode, headers)
}

/**
 * A 204 or 304 answer, which never has a body, whatever Content-Length it carries (RFC 9110 §8.6
 * allows it on a 304; a 204 must not send it): the head, without a 204's Content-Length, ends it.
 */
export function answerBodiless(res: ServerResponse, h2: boolean, statusCode: number, statusMessage: string | undefined, headers: string[]): void {
  if (statusCode === 204) {
    for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'content-length') headers.splice(i, 2)
  }
  writeHead(res, h2, statusCode, statusMessage, headers)
  res.end()
}
