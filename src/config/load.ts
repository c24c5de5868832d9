/** Loading a config file: read, parse JSON, then expand, validate and default it off-thread. */

import { readFile } from 'node:fs/promises'
import { callOffThread } from '../support/off-thread.js'
import { ConfigError } from './errors.js'
import { deepFreeze } from './freeze.js'
import { parseJson } from '../support/json.js'
import type { Config } from './types.js'

export { ConfigError } from './errors.js'

// zod-based; imported only inside the validation thread (see off-thread.ts for why).
const VALIDATE_MODULE = new URL('../validation/config.js', import.meta.url)

/** Reads and validates the config file at `path`; every failure is a one-line `ConfigError`. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(path, '', `cannot read: ${describeReadError(error)}`)
  }
  const parsed = parseJson(text)
  if (!parsed.ok) {
    throw new ConfigError(path, '', `invalid JSON at line ${parsed.line}, column ${parsed.column}: ${parsed.problem}`)
  }
  // process.env is an exotic object; a plain copy crosses the thread boundary.
  const config = await callOffThread(VALIDATE_MODULE, 'parseConfig', [parsed.value, { ...env }, path], (thrown) =>
    thrown.name === 'ConfigError'
      ? new ConfigError(String(thrown.fields.file), String(thrown.fields.field), String(thrown.fields.problem))
      : new ConfigError(path, '', `cannot be validated: ${thrown.message}`),
  )
  return deepFreeze(config as Config)
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory'
  return error instanceof Error ? error.message : String(error)
}
