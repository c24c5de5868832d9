/**
 * The rollout panel, fed by `GET /v1/services/{name}/rollout`: the running (or last) rollout's
 * step, weights, the open window's canary and baseline figures and the verdict so far, with
 * pause/resume/promote/abort. Hidden against a proxy without the rollout API (404 not_found).
 */
import { ApiError, getJson, mutate, servicePath } from './client.js'
import { confirmDialog, el, find } from './dom.js'
import { duration, percent, weightsText } from './format.js'
import type { ServicePanel } from './service-panel.js'
import { canAct, onModeChange } from './session.js'
import type { RolloutAnswerWire, RolloutFiguresWire as GroupFigures, RolloutWire as Rollout } from './wire.js'

const ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const
type RolloutAction = (typeof ACTIONS)[number]

/** Phases in which the actions mean something. */
const ACTIVE = new Set(['running', 'paused', 'finishing'])

function figuresText(figures: GroupFigures): string {
  return `${figures.requests} requests, errors ${percent(figures.errorRate, 2)}, p99 ${duration(figures.p99Ms === null ? null : figures.p99Ms / 1000)}`
}

function failedText(check: Rollout['failed'][number]): string {
  const value = (n: number) => (check.check === 'errorRate' ? percent(n, 2) : duration(n / 1000))
  const baseline = check.baseline === undefined ? '' : ` (baseline ${value(check.baseline)})`
  return `${check.check}: canary ${value(check.canary)}${baseline}, limit ${value(check.limit)}`
}

export class RolloutPanel {
  /** False once the proxy said it has no rollout API: no more asking. */
  #available = true

  constructor(
    readonly panel: ServicePanel,
    readonly section: HTMLElement,
  ) {
    for (const action of ACTIONS) {
      find(section, `[data-action="${action}"]`).addEventListener('click', () => void this.#act(action))
    }
    onModeChange((acting) => {
      for (const button of section.querySelectorAll('button')) button.disabled = !acting
    })
  }

  /** Reads the rollout; hides the panel for good when the endpoint does not exist. */
  async refresh(): Promise<void> {
    if (!this.#available) return
    try {
      this.#render((await getJson<RolloutAnswerWire>(servicePath(this.panel.name, '/rollout'))).rollout)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code === 'not_found') {
        this.#available = false
        this.section.hidden = true
      } else if (error instanceof ApiError && error.status !== 0) {
        this.section.hidden = false
        find(this.section, '.rollout-figures').replaceChildren(el('dt', 'State'), el('dd', error.message))
      }
    }
  }

  #render(rollout: Rollout | null): void {
    this.section.hidden = false
    const rows: [string, string][] = []
    if (rollout === null) rows.push(['State', 'no rollout yet (start one with `zdd-proxy rollout` or POST /v1/services/{name}/rollouts)'])
    else {
      rows.push(['Canary', `${rollout.to}: ${rollout.phase}, step ${rollout.step} of ${rollout.of} (${rollout.weight} %)`], ['Weights', weightsText(rollout.weights)])
      if (rollout.figures !== null) {
        rows.push(['Canary figures', figuresText(rollout.figures.canary)], ['Baseline figures', figuresText(rollout.figures.baseline)])
        rows.push(['Window', `${Math.round(rollout.figures.seconds)} s, ${rollout.figures.replicas} replica${rollout.figures.replicas === 1 ? '' : 's'}`])
      }
      if (rollout.verdict !== null) rows.push(['Verdict', rollout.verdict])
      if (rollout.reason !== null) rows.push(['Reason', rollout.reason])
      for (const check of rollout.failed) rows.push(['Failed check', failedText(check)])
    }
    find(this.section, '.rollout-figures').replaceChildren(...rows.flatMap(([term, text]) => [el('dt', term), el('dd', text)]))
    const active = rollout !== null && ACTIVE.has(rollout.phase)
    for (const action of ACTIONS) find(this.section, `[data-action="${action}"]`).hidden = !active
  }

  async #act(action: RolloutAction): Promise<void> {
    if (!canAct()) return this.panel.notice('Read-only: enter the admin token to steer the rollout.')
    if ((action === 'promote' || action === 'abort') && !(await confirmDialog(`${action === 'promote' ? 'Promote' : 'Abort'} the rollout of ${this.panel.name}?`, [
      action === 'promote' ? 'The rollout moves on to its next step now, without waiting for this step\'s judgement.' : 'The rollout stops and traffic goes back to the weights before it, at once.',
    ]))) return
    try {
      await mutate('POST', servicePath(this.panel.name, `/rollout/${action}`), {})
      this.panel.notice(`Rollout: ${action} sent.`, 'info')
    } catch (error) {
      this.panel.failed(`Rollout ${action}`, error)
    } finally {
      void this.refresh()
    }
  }
}
