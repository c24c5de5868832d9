/** The one error type configuration loading throws, and how field paths are written. */

/** A step in a field path: an object key or an array index. */
export type FieldPath = readonly (string | number)[]

/** Writes a path as users read it: `services[0].weights.1.0` (indices in brackets, keys unquoted). */
export function formatPath(path: FieldPath): string {
  let text = ''
  for (const step of path) {
    if (typeof step === 'number') text += `[${step}]`
    else text += text === '' ? step : `.${step}`
  }
  return text
}

/**
 * A configuration that cannot be used. The message is one line, `<file>: <field path>: <problem>`
 * (without the path when the problem is the whole file), so the CLI can print it as it is.
 */
export class ConfigError extends Error {
  /** The field path as printed; empty when the problem concerns the whole file. */
  readonly field: string

  constructor(
    readonly file: string,
    path: FieldPath | string,
    readonly problem: string,
  ) {
    const field = typeof path === 'string' ? path : formatPath(path)
    // Keys and values come from the user's file; keep the message on one line whatever they hold.
    super(oneLine(field === '' ? `${file}: ${problem}` : `${file}: ${field}: ${problem}`))
    this.name = 'ConfigError'
    this.field = field
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, ' ')
}
