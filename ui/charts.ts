/**
 * A service's live charts (uPlot): req/s, error rate and latency per group over the series window,
 * and the same points as a table for whoever cannot see the charts. Each chart's container is an
 * image whose label reads the latest values.
 */
import type UPlot from 'uplot'
import { el, find, setText } from './dom.js'
import { clock, duration, percent, rate } from './format.js'
import type { GroupSeriesWire, SeriesWire } from './wire.js'

/** One colour per group, in config order; distinguishable with the usual colour-vision deficiencies. */
const COLOURS = ['#0b62d6', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0c8599']
const HEIGHT = 170
let chartCount = 0

export function colourOf(index: number): string {
  return COLOURS[index % COLOURS.length]!
}

interface ChartSpec {
  readonly title: string
  /** The plotted series per group, with their labels. */
  lines(group: GroupSeriesWire): { label: string; values: readonly (number | null)[]; dash?: number[] }[]
  /** An axis tick or legend value. */
  format(value: number): string
  /** Lowest top of the y axis, so a quiet chart does not magnify noise. */
  readonly minTop: number
}

const SPECS: readonly ChartSpec[] = [
  { title: 'Requests per second', lines: (g) => [{ label: g.name, values: g.rps }], format: (v) => rate(v), minTop: 1 },
  { title: 'Error rate', lines: (g) => [{ label: g.name, values: g.errorRate }], format: (v) => percent(v), minTop: 0.05 },
  {
    title: 'Latency (p99 solid, p50 dashed)',
    lines: (g) => [
      { label: `${g.name} p99`, values: g.p99 },
      { label: `${g.name} p50`, values: g.p50, dash: [4, 4] },
    ],
    format: (v) => duration(v),
    minTop: 0.01,
  },
]

interface Chart {
  readonly spec: ChartSpec
  readonly box: HTMLElement
  plot: UPlot | undefined
}

/** The charts and the data table of one service. */
export class ServiceCharts {
  readonly #charts: Chart[] = []
  readonly #details: HTMLDetailsElement
  readonly #resize: ResizeObserver
  #last: SeriesWire | undefined

  constructor(
    readonly container: HTMLElement,
    details: HTMLDetailsElement,
  ) {
    this.#details = details
    for (const spec of SPECS) {
      const id = `chart-${++chartCount}`
      // An image labelled by its title and a sentence with the latest values.
      const box = el('div', undefined, { class: 'plot', role: 'img', 'aria-labelledby': `${id}-title ${id}` })
      box.append(el('span', '', { id, class: 'visually-hidden' }))
      const figure = el('figure')
      figure.append(el('figcaption', spec.title, { id: `${id}-title` }), box)
      container.append(figure)
      this.#charts.push({ spec, box, plot: undefined })
    }
    this.#resize = new ResizeObserver(() => this.#fit())
    this.#resize.observe(container)
    details.addEventListener('toggle', () => this.#renderTable())
  }

  update(series: SeriesWire): void {
    this.#last = series
    const xs = series.times.map((ms) => ms / 1000)
    for (const chart of this.#charts) {
      const lines = series.groups.flatMap((group, index) => chart.spec.lines(group).map((line) => ({ ...line, index })))
      const data = [xs, ...lines.map((line) => [...line.values])] as UPlot.AlignedData
      if (chart.plot === undefined) chart.plot = this.#create(chart, lines, data)
      else chart.plot.setData(data)
      const latest = lines.map((line) => `${line.label}: ${latestOf(line.values, chart.spec.format)}`).join(', ')
      setText(find(chart.box, '.visually-hidden'), `latest ${latest}`)
      chart.box.dataset.points = String(xs.length)
    }
    this.#renderTable()
  }

  #create(chart: Chart, lines: { label: string; index: number; dash?: number[] }[], data: UPlot.AlignedData): UPlot {
    const { format, minTop } = chart.spec
    const options: UPlot.Options = {
      width: this.#width(),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: (_self, _min, max) => [0, Math.max(minTop, max * 1.1)] } },
      axes: [
        { space: 70, values: (_self, ticks) => ticks.map((seconds) => clock(seconds * 1000)) },
        { size: 64, values: (_self, ticks) => ticks.map(format) },
      ],
      series: [
        {},
        ...lines.map((line) => ({
          label: line.label,
          stroke: colourOf(line.index),
          width: 2,
          ...(line.dash === undefined ? {} : { dash: line.dash }),
          value: (_self: UPlot, value: number | null) => (value === null ? '–' : format(value)),
        })),
      ],
      cursor: { drag: { x: false, y: false } },
    }
    return new uPlot(options, data, chart.box)
  }

  #width(): number {
    return Math.max(240, Math.floor(this.container.clientWidth / (this.container.clientWidth >= 900 ? 3 : 1)) - 16)
  }

  #fit(): void {
    const width = this.#width()
    for (const chart of this.#charts) if (chart.plot !== undefined && chart.plot.width !== width) chart.plot.setSize({ width, height: HEIGHT })
  }

  /** The points that had requests, newest first; built only while the table is open. */
  #renderTable(): void {
    const series = this.#last
    if (!this.#details.open || series === undefined) return
    const head = el('tr')
    head.append(el('th', 'Time', { scope: 'col' }))
    for (const group of series.groups) {
      for (const what of ['requests', 'req/s', 'error rate', 'p99']) head.append(el('th', `${group.name} ${what}`, { scope: 'col' }))
    }
    const rows: HTMLTableRowElement[] = []
    for (let i = series.times.length - 1; i >= 0; i--) {
      if (!series.groups.some((group) => group.requests[i]! > 0)) continue
      const row = el('tr', undefined, { 'data-time': String(series.times[i]) })
      row.append(el('th', clock(series.times[i]!), { scope: 'row' }))
      for (const group of series.groups) {
        row.append(
          el('td', String(group.requests[i]), { 'data-group': group.name, 'data-figure': 'requests' }),
          el('td', rate(group.rps[i])),
          el('td', percent(group.errorRate[i])),
          el('td', duration(group.p99[i])),
        )
      }
      rows.push(row)
    }
    find(this.#details, 'thead').replaceChildren(head)
    find(this.#details, 'tbody').replaceChildren(...rows)
  }
}

function latestOf(values: readonly (number | null)[], format: (value: number) => string): string {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return format(values[i]!)
  return 'no data'
}
