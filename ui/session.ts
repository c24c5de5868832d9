/**
 * Read-only or not: the token dialog and the header's mode. Changing the mode tells every part of
 * the page through `onModeChange`.
 */
import { session } from './client.js'
import { find, setText } from './dom.js'

const listeners = new Set<(canAct: boolean) => void>()

/** Whether this tab holds a token (possibly empty: a proxy without one), so changes can be sent. */
export function canAct(): boolean {
  return session.token !== undefined
}

export function onModeChange(listener: (canAct: boolean) => void): void {
  listeners.add(listener)
  listener(canAct())
}

function announce(): void {
  const acting = canAct()
  setText(find(document, '#mode'), acting ? 'Changes enabled' : 'Read-only')
  find(document, '#unlock').hidden = acting
  find(document, '#lock').hidden = !acting
  for (const listener of listeners) listener(acting)
}

/** Forgets the token (the user asked, or the proxy refused it). */
export function dropToken(): void {
  session.token = undefined
  announce()
}

/** Wires the header's buttons and the token dialog. */
export function setUpSession(): void {
  const dialog = find<HTMLDialogElement>(document, '#token-dialog')
  const input = find<HTMLInputElement>(dialog, '#token-input')
  find(document, '#unlock').addEventListener('click', () => {
    input.value = ''
    dialog.showModal()
  })
  find(document, '#lock').addEventListener('click', () => {
    dropToken()
    find<HTMLButtonElement>(document, '#unlock').focus()
  })
  find(dialog, '#token-cancel').addEventListener('click', () => dialog.close('cancel'))
  find<HTMLFormElement>(dialog, '#token-form').addEventListener('submit', (event) => {
    event.preventDefault()
    session.token = input.value.trim()
    input.value = ''
    dialog.close('use')
    announce()
    find<HTMLButtonElement>(document, '#lock').focus()
  })
  announce()
}
