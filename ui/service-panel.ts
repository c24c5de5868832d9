/**
 * One service's section: the groups with their figures, the weight editor, the charts, the
 * instances, the cut-over state and the actions. Groups are fixed for the life of a proxy, so
 * their rows are built once and only their figures change.
 */
import { ServiceActions } from './actions.js'
import { ServiceCharts } from './charts.js'
import { ApiError } from './client.js'
import { el, find, setText, showNotice } from './dom.js'
import { clock, duration, percent, rate } from './format.js'
import { RolloutPanel } from './rollout.js'
import { dropToken } from './session.js'
import { WeightEditor } from './weights.js'
import type { DrainWire, SeriesWire, ServiceWire } from './wire.js'

/** What a panel asks of the page. */
export interface PanelContext {
  /** Reads the services again now (after a change). */
  refresh(): void
}

type Figure = 'weight' | 'share' | 'observed' | 'requests' | 'rps' | 'errorRate' | 'p99'
const FIGURES: readonly Figure[] = ['weight', 'share', 'observed', 'requests', 'rps', 'errorRate', 'p99']

export class ServicePanel {
  readonly root: HTMLElement
  readonly #cells = new Map<string, Record<Figure, HTMLTableCellElement>>()
  readonly #notice: HTMLElement
  readonly #charts: ServiceCharts
  readonly #weights: WeightEditor
  readonly #actions: ServiceActions
  readonly rollout: RolloutPanel

  constructor(
    view: ServiceWire,
    readonly context: PanelContext,
  ) {
    const template = find<HTMLTemplateElement>(document, '#service-template')
    this.root = (template.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement
    this.root.dataset.service = view.name
    const title = find(this.root, '.service-name')
    title.textContent = view.name
    title.id = `service-${encodeURIComponent(view.name)}`
    this.root.setAttribute('aria-labelledby', title.id)
    this.#notice = find(this.root, '.service-notice')
    const body = find<HTMLTableSectionElement>(this.root, 'table.groups tbody')
    view.groups.forEach((group, index) => {
      const row = el('tr', undefined, { 'data-group': group.name })
      const name = el('th', undefined, { scope: 'row' })
      name.append(el('span', '', { class: 'swatch', 'aria-hidden': 'true', 'data-colour': String(index % 6) }), document.createTextNode(group.name))
      row.append(name)
      const cells = {} as Record<Figure, HTMLTableCellElement>
      for (const figure of FIGURES) row.append((cells[figure] = el('td', '–', { 'data-figure': figure })))
      body.append(row)
      this.#cells.set(group.name, cells)
    })
    this.#charts = new ServiceCharts(find(this.root, '.charts'), find(this.root, 'details.chart-data'))
    this.#weights = new WeightEditor(this, find(this.root, 'form.weights-form'), view)
    this.#actions = new ServiceActions(this, view)
    this.rollout = new RolloutPanel(this, find(this.root, 'section.rollout'))
    this.update(view)
  }

  get name(): string {
    return this.root.dataset.service!
  }

  update(view: ServiceWire): void {
    setText(find(this.root, '[data-field="revision"]'), String(view.revision))
    setText(find(this.root, '[data-field="routeRevision"]'), String(view.routeRevision))
    for (const group of view.groups) {
      const cells = this.#cells.get(group.name)
      if (cells === undefined) continue
      setText(cells.weight, String(group.weight))
      setText(cells.share, percent(group.share))
    }
    this.#renderInstances(view)
    setText(find(this.root, '.cutover-state'), cutoverText(view.cutover))
    this.#weights.update(view)
    this.#actions.update(view)
  }

  updateSeries(series: SeriesWire): void {
    for (const group of series.groups) {
      const cells = this.#cells.get(group.name)
      if (cells === undefined) continue
      setText(cells.observed, percent(group.window.share))
      setText(cells.requests, String(group.window.requests))
      setText(cells.rps, rate(group.rps.at(-1) ?? 0))
      setText(cells.errorRate, percent(group.window.errorRate, 2))
      setText(cells.p99, duration(group.window.p99))
    }
    this.#charts.update(series)
  }

  /** Shows a message in the service's own notice (undefined clears it). */
  notice(message: string | undefined, kind: 'error' | 'info' = 'error'): void {
    showNotice(this.#notice, message, kind)
  }

  /** Shows why a change failed; a refused token also ends the session's changes. */
  failed(what: string, error: unknown): void {
    if (error instanceof ApiError && error.status === 401) {
      dropToken()
      this.notice(`${what}: the proxy refused the admin token (401 ${error.code}). Enter it again to make changes.`)
      return
    }
    const detail = error instanceof ApiError ? `${error.status === 0 ? '' : `${error.status} `}${error.code}: ${error.message}` : String(error)
    this.notice(`${what} failed: ${detail}`)
  }

  #renderInstances(view: ServiceWire): void {
    const rows: HTMLTableRowElement[] = []
    view.groups.forEach((group, index) => {
      for (const instance of group.instances) {
        const row = el('tr', undefined, { 'data-instance': instance.instance, 'data-state': instance.state })
        if (instance.draining) row.classList.add('draining')
        const health = el('td')
        health.append(el('span', instance.state, { class: `state state-${instance.state}` }))
        if (instance.draining) health.append(' ', el('span', 'draining', { class: 'badge' }))
        row.append(
          el('th', instance.instance, { scope: 'row' }),
          el('td', group.name, { 'data-colour': String(index % 6) }),
          health,
          el('td', instance.live ? 'yes' : 'no'),
          el('td', String(instance.inflight)),
          el('td', String(instance.ejections)),
        )
        rows.push(row)
      }
    })
    if (rows.length === 0) {
      const none = el('tr')
      none.append(el('td', 'No instance known yet.', { colspan: '6' }))
      rows.push(none)
    }
    find(this.root, 'table.instances tbody').replaceChildren(...rows)
  }
}

/** The cut-over state in one sentence, with its drain counts. */
export function cutoverText(cutover: DrainWire | null): string {
  if (cutover === null) return 'No cut-over since the proxy started.'
  const head = `Cut-over to ${cutover.to} (from ${cutover.from.join(', ') || 'no group'}) at ${clock(cutover.startedAt)}, revision ${cutover.revision}`
  if (cutover.phase === 'draining') {
    return `${head}: draining, ${cutover.inflight} request${cutover.inflight === 1 ? '' : 's'} in flight on the old side, deadline ${cutover.drainSeconds} s.`
  }
  const counts = cutover.counts
  const tail = counts === undefined ? '' : `; ${counts.completed} of ${counts.inflightAtStart} in-flight requests completed, ${counts.cut} cut${counts.remaining > 0 ? `, ${counts.remaining} left running` : ''}`
  return `${head}: ${cutover.phase}${tail}.`
}
