/** A Server-Sent Events parser for a streamed body, fed chunk by chunk; pure. */

export interface StreamEvent {
  /** `event:` field; "message" when absent. */
  readonly type: string
  readonly data: string
}

/** Longest unfinished event kept; a stream that never ends one is cut here rather than grow. */
const MAX_PENDING = 1024 * 1024

export class SseParser {
  #pending = ''

  /** Returns the events completed by `chunk`; comments (heartbeats) are skipped. */
  feed(chunk: string): StreamEvent[] {
    this.#pending += chunk.replace(/\r\n?/g, '\n')
    const events: StreamEvent[] = []
    let end: number
    while ((end = this.#pending.indexOf('\n\n')) >= 0) {
      const block = this.#pending.slice(0, end)
      this.#pending = this.#pending.slice(end + 2)
      let type = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') type = value
        else if (field === 'data') data.push(value)
      }
      if (data.length > 0) events.push({ type, data: data.join('\n') })
    }
    if (this.#pending.length > MAX_PENDING) this.#pending = ''
    return events
  }
}
