/**
 * The rollout panel. Progressive rollouts are a later part of the admin API
 * (`/v1/services/{name}/rollout`); the panel stays hidden until that endpoint answers, and shows
 * whatever figures it gives, so it needs no change when the API lands.
 */
import { ApiError, getJson, mutate, servicePath } from './client.js'
import { confirmDialog, el, find } from './dom.js'
import type { ServicePanel } from './service-panel.js'
import { canAct, onModeChange } from './session.js'

const ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const
type RolloutAction = (typeof ACTIONS)[number]

function valueText(value: unknown): string {
  if (value === null || value === undefined) return '–'
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
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
      this.#render(await getJson<Record<string, unknown>>(servicePath(this.panel.name, '/rollout')))
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

  #render(rollout: Record<string, unknown>): void {
    this.section.hidden = false
    const items: HTMLElement[] = []
    for (const [key, value] of Object.entries(rollout)) items.push(el('dt', key), el('dd', valueText(value)))
    find(this.section, '.rollout-figures').replaceChildren(...items)
  }

  async #act(action: RolloutAction): Promise<void> {
    if (!canAct()) return this.panel.notice('Read-only: enter the admin token to steer the rollout.')
    if ((action === 'promote' || action === 'abort') && !(await confirmDialog(`${action === 'promote' ? 'Promote' : 'Abort'} the rollout of ${this.panel.name}?`, [
      action === 'promote' ? 'The new version takes all traffic now, skipping the remaining steps.' : 'The rollout stops and traffic goes back to the previous weights.',
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
