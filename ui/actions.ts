/** Cut-over and rollback for one service, each through a confirm step. */
import { mutate, servicePath } from './client.js'
import { confirmDialog, el, find, setText } from './dom.js'
import { clock, percent, weightsText } from './format.js'
import { movedShare } from './moves.js'
import type { ServicePanel } from './service-panel.js'
import { canAct, onModeChange } from './session.js'
import type { HistoryWire, ServiceWire } from './wire.js'

/** The change a rollback undoes: the latest one that is neither a rollback nor undone already. */
export function changeToUndo(history: readonly HistoryWire[]): HistoryWire | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!
    if (entry.kind !== 'rollback' && entry.undone !== true) return entry
  }
  return undefined
}

export class ServiceActions {
  readonly #target: HTMLSelectElement
  readonly #drain: HTMLInputElement
  readonly #rollback: HTMLButtonElement
  #view: ServiceWire

  constructor(
    readonly panel: ServicePanel,
    view: ServiceWire,
  ) {
    this.#view = view
    const root = panel.root
    this.#target = find<HTMLSelectElement>(root, '.cutover-to')
    this.#target.replaceChildren(...view.groups.map((group) => el('option', group.name, { value: group.name })))
    this.#drain = find<HTMLInputElement>(root, '.cutover-drain')
    this.#rollback = find<HTMLButtonElement>(root, 'button.rollback')
    const form = find<HTMLFormElement>(root, 'form.cutover-form')
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.#cutover()
    })
    this.#rollback.addEventListener('click', () => void this.#undo())
    onModeChange((acting) => {
      for (const control of form.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>('input, select, button')) control.disabled = !acting
      this.#rollback.disabled = !acting
    })
  }

  update(view: ServiceWire): void {
    this.#view = view
    const undo = changeToUndo(view.history)
    setText(
      find(this.panel.root, '.undo-what'),
      undo === undefined ? 'Nothing to roll back.' : `Undoes revision ${undo.revision} (${undo.kind} at ${clock(undo.time)}): back to ${weightsText(undo.before)}.`,
    )
  }

  async #cutover(): Promise<void> {
    const view = this.#view
    if (!canAct()) return this.panel.notice('Read-only: enter the admin token to cut over.')
    const to = this.#target.value
    const drainText = this.#drain.value.trim()
    const drainSeconds = drainText === '' ? undefined : Number(drainText)
    if (drainSeconds !== undefined && (!Number.isFinite(drainSeconds) || drainSeconds < 0 || drainSeconds > 86_400)) {
      this.panel.notice('Drain seconds must be a number from 0 to 86400, or empty for the service default.')
      this.#drain.focus()
      return
    }
    const before: Record<string, number> = {}
    for (const group of view.groups) if (group.share > 0) before[group.name] = group.share
    const others = view.groups.filter((group) => group.name !== to && group.share > 0).map((group) => group.name)
    const ok = await confirmDialog(`Cut ${view.name} over to ${to}?`, [
      `All new traffic goes to ${to}${others.length > 0 ? `; ${others.join(', ')} drain${drainSeconds === undefined ? '' : ` for up to ${drainSeconds} s`}` : ''}.`,
      `About ${percent(movedShare(before, { [to]: 1 }))} of returning clients will move.`,
      `Refused unless ${to}'s instances are all ready.`,
    ], 'Cut over')
    if (!ok) return
    try {
      const answer = await mutate<{ revision: number }>('POST', servicePath(view.name, '/cutover'), drainSeconds === undefined ? { to } : { to, drainSeconds })
      this.panel.notice(`Cut-over to ${to} started (revision ${answer.revision}).`, 'info')
    } catch (error) {
      this.panel.failed(`Cut-over to ${to}`, error)
    } finally {
      this.panel.context.refresh()
    }
  }

  async #undo(): Promise<void> {
    const view = this.#view
    if (!canAct()) return this.panel.notice('Read-only: enter the admin token to roll back.')
    const undo = changeToUndo(view.history)
    const lines =
      undo === undefined
        ? ['The proxy will say whether there is a change to undo.']
        : [`Undoes revision ${undo.revision} (${undo.kind}): ${weightsText(undo.after)} → ${weightsText(undo.before)}, at once.`]
    if (!(await confirmDialog(`Roll back ${view.name}?`, lines, 'Roll back'))) return
    try {
      const answer = await mutate<{ revision: number; service: ServiceWire }>('POST', servicePath(view.name, '/rollback'), {})
      this.panel.notice(`Rolled back: weights ${weightsText(answer.service.weights)} (revision ${answer.revision}).`, 'info')
    } catch (error) {
      this.panel.failed('Rollback', error)
    } finally {
      this.panel.context.refresh()
    }
  }
}
