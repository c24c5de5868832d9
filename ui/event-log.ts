/**
 * The event log: `/v1/events` read as a stream (every event type, including ones this page does
 * not know yet), newest first, filterable by type, at most MAX_SHOWN entries kept.
 */
import { el, find } from './dom.js'
import { clock, weightsText } from './format.js'
import { readHeaders } from './client.js'
import { SseParser } from './sse.js'

const MAX_SHOWN = 200
const KNOWN_TYPES = [
  'weights_changed',
  'cutover_started',
  'cutover_completed',
  'rollback',
  'instance_added',
  'instance_removed',
  'health_changed',
  'discovery_error',
]

/** One event's payload (flat JSON). */
export type EventData = Readonly<Record<string, unknown>>

/** The payload in one line: weights as the CLI writes them, the rest as field=value. */
export function summary(data: EventData): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(data)) {
    if (key === 'eventType' || key === 'timestamp') continue
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      parts.push(`${key} ${weightsText(value as Record<string, number>)}`)
    } else parts.push(`${key}=${Array.isArray(value) ? value.join(',') : String(value)}`)
  }
  return parts.join(' · ')
}

export class EventLog {
  readonly #list: HTMLOListElement
  readonly #filter: HTMLSelectElement
  readonly #types = new Set<string>()

  constructor(
    /** Called with every event, after it is listed. */
    private readonly onEvent: (type: string, data: EventData) => void,
    private readonly onConnection: (connected: boolean) => void,
  ) {
    this.#list = find<HTMLOListElement>(document, '#event-list')
    this.#filter = find<HTMLSelectElement>(document, '#event-filter')
    for (const type of KNOWN_TYPES) this.#addType(type)
    this.#filter.addEventListener('change', () => {
      for (const item of this.#list.children) (item as HTMLElement).hidden = !this.#shows(item as HTMLElement)
    })
  }

  /** Reads the stream until the page goes; reconnects after a pause when it ends or fails. */
  async run(): Promise<never> {
    for (let pause = 1_000; ; pause = Math.min(pause * 2, 10_000)) {
      try {
        const response = await fetch('/v1/events', { cache: 'no-store', credentials: 'omit', headers: readHeaders({ accept: 'text/event-stream' }) })
        if (!response.ok || response.body === null) throw new Error(`answered ${response.status}`)
        this.onConnection(true)
        pause = 1_000
        const parser = new SseParser()
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          for (const event of parser.feed(value)) this.#receive(event.type, event.data)
        }
      } catch {
        // Shown as "reconnecting" below; the next attempt says whether the proxy is back.
      }
      this.onConnection(false)
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }

  #receive(type: string, text: string): void {
    let data: EventData
    try {
      data = JSON.parse(text) as EventData
    } catch {
      data = { data: text }
    }
    this.#addType(type)
    const time = typeof data.timestamp === 'string' ? data.timestamp : new Date().toISOString()
    const item = el('li', undefined, { 'data-type': type })
    item.append(el('time', clock(time), { datetime: time }), ' ', el('strong', type), ' ', el('span', summary(data)))
    item.hidden = !this.#shows(item)
    this.#list.prepend(item)
    while (this.#list.children.length > MAX_SHOWN) this.#list.lastElementChild!.remove()
    this.onEvent(type, data)
  }

  #shows(item: HTMLElement): boolean {
    return this.#filter.value === '' || item.dataset.type === this.#filter.value
  }

  #addType(type: string): void {
    if (this.#types.has(type)) return
    this.#types.add(type)
    this.#filter.append(el('option', type, { value: type }))
  }
}
