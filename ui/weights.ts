/**
 * The weight editor: a slider per group, the predicted effect, a confirm step, and the change sent
 * with If-Match set to the revision the edit started from. While the user edits, polling does not
 * move the sliders; if someone else changes the weights meanwhile, the proxy answers 412 and the
 * page says so instead of overwriting their change.
 */
import { ApiError, getJson, mutate, servicePath } from './client.js'
import { confirmDialog, el, find, setText } from './dom.js'
import { percent, weightsText } from './format.js'
import { movedShare, sharesOf } from './moves.js'
import type { ServicePanel } from './service-panel.js'
import { canAct, onModeChange } from './session.js'
import type { ServiceWire } from './wire.js'

interface Slider {
  readonly input: HTMLInputElement
  readonly output: HTMLOutputElement
}

/** Groups that can take traffic now: those with a live instance. */
function liveGroups(view: ServiceWire): string[] {
  return view.groups.filter((group) => group.instances.some((instance) => instance.live)).map((group) => group.name)
}

export class WeightEditor {
  readonly #sliders = new Map<string, Slider>()
  readonly #prediction: HTMLElement
  /** The view the sliders started from: its revision goes out as If-Match. */
  #base: ServiceWire
  /** The latest view polling brought. */
  #latest: ServiceWire
  #dirty = false

  constructor(
    readonly panel: ServicePanel,
    readonly form: HTMLFormElement,
    view: ServiceWire,
  ) {
    this.#base = view
    this.#latest = view
    this.#prediction = find(form, '.prediction')
    const box = find(form, '.sliders')
    view.groups.forEach((group, index) => {
      const id = `weight-${encodeURIComponent(view.name)}-${index}`
      const input = el('input', undefined, { type: 'range', id, min: '0', step: '1', 'data-group': group.name })
      const output = el('output', '', { for: id })
      const label = el('label', `Weight of ${group.name}`, { for: id })
      const row = el('div', undefined, { class: 'slider', 'data-colour': String(index % 6) })
      row.append(label, input, output)
      box.append(row)
      input.addEventListener('input', () => {
        this.#dirty = true
        this.#render()
      })
      this.#sliders.set(group.name, { input, output })
    })
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.#review()
    })
    find(form, '.revert').addEventListener('click', () => this.#revert())
    onModeChange((acting) => {
      find(form, 'fieldset').toggleAttribute('disabled', !acting)
      find(form, '.readonly-hint').hidden = acting
      // Read-only again (token dropped or refused): an unsent edit would only mislead.
      if (!acting) this.#load(this.#latest)
    })
    this.#load(view)
  }

  /** A new view from polling: followed unless the user is editing. */
  update(view: ServiceWire): void {
    this.#latest = view
    if (!this.#dirty) this.#load(view)
  }

  /** The weights the sliders propose. */
  proposed(): Record<string, number> {
    const weights: Record<string, number> = {}
    for (const [group, { input }] of this.#sliders) weights[group] = Number(input.value)
    return weights
  }

  #load(view: ServiceWire): void {
    this.#base = view
    this.#dirty = false
    const top = Math.max(100, ...view.groups.map((group) => group.weight))
    for (const group of view.groups) {
      const slider = this.#sliders.get(group.name)
      if (slider === undefined) continue
      slider.input.max = String(Math.ceil(top))
      slider.input.value = String(group.weight)
    }
    this.#render()
  }

  #revert(): void {
    this.#load(this.#latest)
    this.panel.context.refresh()
  }

  /** What the proposal would do: new shares, and the share of returning clients that would move. */
  #effect(): { shares: Record<string, number>; moved: number; changed: boolean } {
    const candidates = liveGroups(this.#base)
    const proposed = this.proposed()
    const before: Record<string, number> = {}
    for (const group of this.#base.groups) if (group.share > 0) before[group.name] = group.share
    const shares = sharesOf(proposed, candidates)
    const changed = this.#base.groups.some((group) => group.weight !== proposed[group.name])
    return { shares, moved: movedShare(before, shares), changed }
  }

  #render(): void {
    const { shares, moved, changed } = this.#effect()
    for (const [group, { input, output }] of this.#sliders) {
      const share = shares[group] ?? 0
      setText(output, `${input.value} (${percent(share)})`)
      input.setAttribute('aria-valuetext', `${input.value}, ${percent(share)} of new traffic`)
    }
    setText(
      this.#prediction,
      changed ? `If applied, about ${percent(moved)} of returning clients move to another group.` : 'The sliders show the weights in force.',
    )
  }

  async #review(): Promise<void> {
    const panel = this.panel
    if (!canAct()) {
      panel.notice('Read-only: enter the admin token to change weights.')
      return
    }
    const proposed = this.proposed()
    const { shares, moved, changed } = this.#effect()
    if (!changed) {
      panel.notice('Nothing to apply: the sliders show the weights in force.', 'info')
      return
    }
    if (!Object.values(proposed).some((weight) => weight > 0)) {
      panel.notice('At least one weight must be above 0.')
      return
    }
    const base = this.#base
    const ok = await confirmDialog(`Set the weights of ${base.name}?`, [
      `${weightsText(base.weights)} → ${weightsText(proposed)}`,
      `New traffic: ${Object.entries(shares).map(([group, share]) => `${group} ${percent(share)}`).join(', ') || 'no group can take it'}.`,
      `About ${percent(moved)} of returning clients will move to another group.`,
      `Made from revision ${base.revision}: if someone changed the weights since, nothing is applied.`,
    ], 'Set weights')
    if (!ok) return
    try {
      const answer = await mutate<{ revision: number }>('PUT', servicePath(base.name, '/weights'), { weights: proposed }, base.revision)
      this.#dirty = false
      panel.notice(`Weights set to ${weightsText(proposed)} (revision ${answer.revision}).`, 'info')
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) await this.#conflict(base.revision)
      else panel.failed('Setting weights', error)
    } finally {
      panel.context.refresh()
    }
  }

  /** Someone else changed the weights: say so, keep the proposal, and start again from theirs. */
  async #conflict(revision: number): Promise<void> {
    let now = ''
    try {
      const view = await getJson<ServiceWire>(servicePath(this.#base.name))
      const proposal = this.proposed()
      this.#base = view
      for (const [group, { input }] of this.#sliders) input.value = String(proposal[group] ?? 0)
      this.#render()
      now = ` They are now ${weightsText(view.weights)} (revision ${view.revision}).`
    } catch {
      // The notice below still says what happened.
    }
    this.panel.notice(
      `Conflict: the weights changed since revision ${revision}, so yours were not applied.${now} Review your change again, or go back to the current weights.`,
    )
  }
}
