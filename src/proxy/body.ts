/**
 * Request buffering (nginx's `proxy_request_buffering`): a body of at most `limit` bytes is read
 * whole before an upstream connection is taken, so a slow uploader holds no connection to the
 * instance, and a buffered body can be sent again after a failed connect.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'

/** What a request sends upstream: nothing, its whole body, or a stream of it. */
export type RequestBody = Buffer | Readable | null

/**
 * Whether the request has a body: HTTP/1.1 says so by a length above 0 or chunking; an HTTP/2
 * stream that did not end with its headers has one (it needs no Content-Length).
 */
export function hasBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) return !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
}

/**
 * Reads the body of `req` and calls `done` with it: a Buffer when it is at most `limit` bytes, or a
 * stream that replays what was read and goes on with the rest when it turns out larger. A body that
 * declares a larger Content-Length streams from the start. `done` is not called when the client
 * leaves first (the connection's close ends the request).
 */
export function readBody(req: IncomingMessage, limit: number, done: (body: RequestBody) => void): void {
  const declared = req.headers['content-length']
  if (limit <= 0 || (declared !== undefined && Number(declared) > limit)) {
    done(req)
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  const onData = (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
    if (size <= limit) return
    stop()
    req.pause()
    done(Readable.from(replayThenRest(chunks, req), { objectMode: false }))
  }
  const onEnd = () => {
    stop()
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
  }
  const stop = () => {
    req.off('data', onData)
    req.off('end', onEnd)
  }
  req.on('data', onData)
  req.once('end', onEnd)
}

async function* replayThenRest(read: readonly Buffer[], rest: IncomingMessage): AsyncGenerator<Buffer> {
  yield* read
  for await (const chunk of rest) yield chunk as Buffer
}

/** Whether `body` can be sent again (after a failed connect): nothing, a buffer, or a request not read yet. */
export function bodyReplayable(body: RequestBody, req: IncomingMessage): boolean {
  return body === null || Buffer.isBuffer(body) || (body === req && !req.readableDidRead)
}
