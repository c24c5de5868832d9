/** Reading the admin API's `/v1/events` (Server-Sent Events) as a client: the bench and the tests. */
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'

/**
 * Calls `onEvent` with each whole event of a text/event-stream body: its `event:` type (undefined
 * without one), its `data:` line and when the chunk that completed it arrived (performance.now()).
 */
export function readServerSentEvents(body: Readable, onEvent: (type: string | undefined, data: string, at: number) => void): void {
  let buffer = ''
  body.setEncoding('utf8')
  body.on('data', (chunk: string) => {
    const at = performance.now()
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (data !== undefined) onEvent(/^event: (.*)$/m.exec(block)?.[1], data, at)
    }
  })
}
