import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
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
    onResponseStart(controller, statusCode: number) {
      // The instance refused the upgrade: tell the client and close.
      finish()
      answered = true
      client.end(`HTTP/1.1 ${statusCode} Upgrade Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
      controller.abort(new Error('upgrade refused'))
    },
    onResponseData() {},
    onResponseEnd() {
      finish()
    },
    onResponseError(_controller, error: Error) {
      finish()
      if (!answered && !client.destroyed) {
        answered = true
        logger.warn({ event: 'upstream_failure', instance: instance.address, kind: 'upgrade', err: error.message })
        client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      }
    },
  }
  instance.pool.dispatch({ path: req.url!, method: 'GET', headers, upgrade: 'websocket' }, handler)
}
