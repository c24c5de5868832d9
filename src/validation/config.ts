/**
 * Checking a parsed config document with zod: expand `${VAR}`, validate, apply defaults.
 * `serve` runs this in a worker thread (load.ts), so zod never loads where requests are served.
 */

import type { z } from 'zod'
import { ConfigError } from '../config/errors.js'
import { expandEnv } from '../config/expand.js'
import { deepFreeze } from '../config/freeze.js'
import { configSchema } from './config-schema.js'
import type { Config } from '../config/types.js'

export { ConfigError } from '../config/errors.js'

/**
 * Validates an already-parsed JSON document: expands `${VAR}` from `env` in every string value,
 * checks it and applies defaults. Throws a `ConfigError` naming `source` and the first bad field;
 * the result is deeply frozen.
 */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv, source: string): Config {
  const expanded = expandEnv(raw, env, source)
  const result = configSchema.safeParse(expanded, { error: describeIssue })
  if (!result.success) throw toConfigError(result.error.issues, source)
  const config: Config = result.data
  return deepFreeze(config)
}

/**
 * Picks the one issue to report. An unknown key comes first: a misspelt key usually also causes
 * a "required" issue elsewhere, and the typo is the real cause. Otherwise the schema's order.
 */
function toConfigError(issues: readonly z.core.$ZodIssue[], source: string, prefix: (string | number)[] = []): ConfigError {
  const issue = issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? issues[0]
  if (issue === undefined) return new ConfigError(source, prefix, 'invalid configuration')
  const path = [...prefix, ...issue.path.map((step) => (typeof step === 'symbol' ? String(step) : step))]
  if (issue.code === 'invalid_union') {
    // A field taking several shapes (a vhost name or a vhost with its certificate): report the
    // problem of the shape the value has, not "invalid input".
    const branch = issue.errors.find((errors) => !errors.some((error) => error.code === 'invalid_type' && error.path.length === 0))
    if (branch !== undefined && branch.length > 0) return toConfigError(branch, source, path)
  }
  if (issue.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '')
  return new ConfigError(source, path, issue.message)
}

/** Messages for zod's built-in checks, worded for config files; custom checks bring their own. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required'
      if (issue.expected === 'int') return 'must be an integer'
      if (issue.expected === 'number' && typeof issue.input === 'number') return 'must be a finite number'
      return `must be ${article(issue.expected)}, got ${typeName(issue.input)}`
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty'
      if (issue.origin === 'array' && Number(issue.minimum) === 1) return 'must not be empty'
      if (issue.origin === 'array') return `must have at least ${issue.minimum} items`
      return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`
    case 'invalid_value': {
      const values = issue.values.map((value) => JSON.stringify(value))
      return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`
    }
    case 'invalid_format':
      if (issue.format === 'starts_with') return `must start with "${(issue as { prefix?: string }).prefix ?? ''}"`
      return 'has the wrong format'
    default:
      return undefined
  }
}

function article(expected: string): string {
  if (expected === 'boolean') return 'true or false'
  if (expected === 'record') return 'an object'
  if (expected === 'array' || expected === 'object' || expected === 'int') return `an ${expected}`
  return `a ${expected}`
}

// Only the type, never the value: a misplaced secret must not end up on stderr.
function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return article(typeof value)
}
