/** Small DOM helpers shared by the page's parts. */

/** The element matching `selector` under `root`; throws when the page's markup lacks it. */
export function find<E extends Element = HTMLElement>(root: ParentNode, selector: string): E {
  const element = root.querySelector<E>(selector)
  if (element === null) throw new Error(`dashboard markup: no ${selector}`)
  return element
}

/** A new element with text and attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attributes: Readonly<Record<string, string>> = {},
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (text !== undefined) element.textContent = text
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  return element
}

/** Sets text only when it changed, so an unchanged figure does not disturb screen readers. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text
}

/** Shows `message` in a notice element (hidden when undefined). */
export function showNotice(element: HTMLElement, message: string | undefined, kind: 'error' | 'info' = 'error'): void {
  element.hidden = message === undefined
  element.dataset.kind = kind
  setText(element, message ?? '')
}

/**
 * Asks for confirmation in the page's modal dialog; resolves true on Confirm, false on Cancel or
 * Escape. `lines` are shown as paragraphs.
 */
export function confirmDialog(title: string, lines: readonly string[], confirmLabel = 'Confirm'): Promise<boolean> {
  const dialog = find<HTMLDialogElement>(document, '#confirm-dialog')
  setText(find(dialog, '#confirm-title'), title)
  find(dialog, '#confirm-body').replaceChildren(...lines.map((line) => el('p', line)))
  setText(find(dialog, '#confirm-yes'), confirmLabel)
  dialog.returnValue = ''
  dialog.showModal()
  return new Promise((resolve) => {
    const cancel = find<HTMLButtonElement>(dialog, '#confirm-no')
    const onCancel = () => dialog.close('no')
    cancel.addEventListener('click', onCancel)
    dialog.addEventListener(
      'close',
      () => {
        cancel.removeEventListener('click', onCancel)
        resolve(dialog.returnValue === 'yes')
      },
      { once: true },
    )
  })
}
