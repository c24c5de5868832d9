/**
 * The dashboard's entry: reads `/v1/services` and each service's series every POLL_MS (and at once
 * after an event or a change), keeps one panel per service, and follows the event stream. Polling
 * pauses while the tab is hidden.
 */
import { ApiError, getJson, servicePath } from './client.js'
import { find, setText, showNotice } from './dom.js'
import { EventLog } from './event-log.js'
import { clock } from './format.js'
import { ServicePanel, type PanelContext } from './service-panel.js'
import { setUpSession } from './session.js'
import type { SeriesWire, ServicesWire } from './wire.js'

/** The series' own interval: polling faster would show nothing new. */
const POLL_MS = 2_000
/** After an event, wait this long so a burst (one sweep's health changes) costs one read. */
const EVENT_SETTLE_MS = 200

const panels = new Map<string, ServicePanel>()
const state = { api: false, stream: false, updated: '' }
let timer: number | undefined
let polling = false
let again = false

const context: PanelContext = { refresh: () => schedule(0) }

function showConnection(): void {
  const text = !state.api
    ? 'Proxy unreachable, retrying…'
    : `Live · updated ${state.updated}${state.stream ? '' : ' · event stream reconnecting…'}`
  const element = find(document, '#connection')
  setText(element, text)
  element.dataset.state = state.api && state.stream ? 'live' : 'degraded'
}

function schedule(delayMs = POLL_MS): void {
  window.clearTimeout(timer)
  timer = document.hidden ? undefined : window.setTimeout(() => void poll(), delayMs)
}

async function poll(): Promise<void> {
  if (polling) {
    again = true
    return
  }
  polling = true
  const notice = find(document, '#notice')
  try {
    const { services } = await getJson<ServicesWire>('/v1/services')
    const container = find(document, '#services')
    for (const view of services) {
      const panel = panels.get(view.name)
      if (panel !== undefined) panel.update(view)
      else {
        const created = new ServicePanel(view, context)
        panels.set(view.name, created)
        container.append(created.root)
      }
    }
    await Promise.all(
      [...panels.values()].map(async (panel) => {
        panel.updateSeries(await getJson<SeriesWire>(servicePath(panel.name, '/series')))
        await panel.rollout.refresh()
      }),
    )
    state.api = true
    state.updated = clock(Date.now())
    showNotice(notice, undefined)
  } catch (error) {
    state.api = false
    const detail = error instanceof ApiError ? error.message : String(error)
    showNotice(notice, `Cannot read the proxy's state: ${detail}. Retrying every ${POLL_MS / 1000} s.`)
  } finally {
    polling = false
    showConnection()
    schedule(again ? 0 : POLL_MS)
    again = false
  }
}

function start(): void {
  setUpSession()
  document.addEventListener('visibilitychange', () => schedule(document.hidden ? POLL_MS : 0))
  const log = new EventLog(
    () => schedule(EVENT_SETTLE_MS),
    (connected) => {
      state.stream = connected
      showConnection()
    },
  )
  void log.run()
  void poll()
}

start()
