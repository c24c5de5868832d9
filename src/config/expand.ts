/** `${VAR}` expansion in every string value of a parsed JSON document; pure. */

import { ConfigError, type FieldPath } from './errors.js'

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Returns a copy of `value` with `${VAR}` in every string value replaced from `env`; object keys
 * are left alone. `$${` stands for a literal `${`. A missing variable, an unterminated `${` or a bad
 * name throws a `ConfigError` naming the field (`source` is the file name for the message).
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, source: string): unknown {
  return expandValue(value, env, source, [])
}

function expandValue(value: unknown, env: NodeJS.ProcessEnv, source: string, path: (string | number)[]): unknown {
  if (typeof value === 'string') return expandString(value, env, source, path)
  if (Array.isArray(value)) {
    return value.map((item, index) => expandValue(item, env, source, [...path, index]))
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      // defineProperty keeps a JSON key named "__proto__" an own key instead of a prototype change.
      Object.defineProperty(copy, key, {
        value: expandValue(item, env, source, [...path, key]),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return copy
  }
  return value
}

/** Expands one string; exported for tests and for callers expanding single values. */
export function expandString(text: string, env: NodeJS.ProcessEnv, source: string, path: FieldPath): string {
  if (!text.includes('$')) return text
  let out = ''
  let index = 0
  while (index < text.length) {
    const dollar = text.indexOf('$', index)
    if (dollar < 0) {
      out += text.slice(index)
      break
    }
    out += text.slice(index, dollar)
    if (text.startsWith('$${', dollar)) {
      out += '${'
      index = dollar + 3
    } else if (text.startsWith('${', dollar)) {
      const close = text.indexOf('}', dollar + 2)
      if (close < 0) throw new ConfigError(source, path, 'unterminated "${" (write "$${" for a literal "${")')
      const name = text.slice(dollar + 2, close)
      if (!VARIABLE_NAME.test(name)) {
        const problem = `invalid variable reference "\${${name}}" (names are [A-Za-z_][A-Za-z0-9_]*)`
        throw new ConfigError(source, path, problem)
      }
      const replacement = env[name]
      if (replacement === undefined) throw new ConfigError(source, path, `environment variable ${name} is not set`)
      out += replacement
      index = close + 1
    } else {
      out += '$'
      index = dollar + 1
    }
  }
  return out
}
