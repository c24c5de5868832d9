import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { Logger } from '../support/log.js'
import { buildResponseHeaders } from './headers.js'
import type { Instance } from '../upstream/instance.js'

/**
 * Passes a WebSocket upgrade through to `instance`: the 101 answer goes back to the client, then
 * bytes flow both ways until either side closes. The connection counts as in flight meanwhile.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  instance: Instance,
  headers: string[],
  extraResponseHeaders: string[] | undefined,
  logger: Logger,
): void {
  let open = true
  let answered = false
  instance.inflight++
  const finish = () => {
    if (open) {
      open = false
      instance.inflight--
    }
  }
  client.on('error', () => client.destroy())
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(controller) {
      client.once('close', () => {
        if (!controller.aborted) controller.abort(new Error('client closed the connection'))
      })
    },
    onRequestUpgrade(_controller, statusCode: number, responseHeaders: IncomingHttpHeaders, socket: Duplex) {
      answered = true
      const list = buildResponseHeaders(responseHeaders, extraResponseHeaders)
      let headText = `HTTP/1.1 ${statusCode} Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n`
      for (let i = 0; i < list.length; i += 2) headText += `${list[i]}: ${list[i + 1]}\r\n`
      client.write(`${headText}\r\n`)
      if (head.length > 0) socket.write(head)
      socket.on('error', () => socket.destroy())
      socket.once('close', () => {
        finish()
        client.destroy()
      })
      client.once('close', () => {
        finish()
        socket.destroy()
      })
      socket.pipe(client)
      client.pipe(socket)
    },
    onResponseStart(_controller, statusCode: number, responseHeaders: IncomingHttpHeaders, statusMessage?: string) {
      // The instance refused the upgrade (200, 401, 426…): relay its answer whole, then close.
      answered = true
      const list = buildResponseHeaders(responseHeaders, extraResponseHeaders)
      let headText = `HTTP/1.1 ${statusCode} ${statusMessage || (STATUS_CODES[statusCode] ?? '')}\r\n`
      for (let i = 0; i < list.length; i += 2) headText += `${list[i]}: ${list[i + 1]}\r\n`
      client.write(`${headText}connection: close\r\n\r\n`)
    },
    onResponseData(_controller, chunk: Buffer) {
      client.write(chunk)
    },
    onResponseEnd() {
      finish()
      client.end()
    },
    onResponseError(_controller, error: Error) {
      finish()
      if (answered) client.destroy()
      else if (!client.destroyed) {
        answered = true
        logger.warn({ event: 'upstream_failure', instance: instance.address, kind: 'upgrade', err: error.message })
        const body = JSON.stringify({ error: { code: 'upstream_error', message: 'the service did not accept the upgrade' } })
        client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`)
      }
    },
  }
  instance.pool.dispatch({ path: req.url!, method: 'GET', headers, upgrade: 'websocket' }, handler)
}
