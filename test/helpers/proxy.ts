import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCli, type Started } from './processes.js'

const tempDirs: string[] = []

/** A fresh temporary directory, removed with the config files by `removeTempFiles`. */
export function tempDir(prefix = 'zdd-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

/** Writes `config` to a temp file and returns its path. */
export function writeConfig(config: unknown): string {
  const dir = tempDir()
  const path = join(dir, 'config.json')
  writeFileSync(path, JSON.stringify(config, null, 2))
  return path
}

/** Removes the temp files written by writeConfig and the directories made by tempDir. */
export function removeTempFiles(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

export interface StartedProxy extends Started {
  /** Port of the first service's listener. */
  readonly port: number
  readonly url: string
}

/** Runs `zdd-proxy serve --config <file>` on a config object and waits until it listens. */
export async function startProxyProcess(config: unknown, env?: Record<string, string>): Promise<StartedProxy> {
  const started = await startCli(['serve', '--config', writeConfig(config)], {
    waitFor: /"event":"listening"[^\n]*"port":(\d+)/,
    env,
  })
  const port = Number(started.match[1])
  return Object.assign(started, { port, url: `http://127.0.0.1:${port}` })
}

/** A one-service config on 127.0.0.1:0 with static groups; `overrides` merges into the service. */
export function serviceConfig(
  groups: Record<string, string[]>,
  weights: Record<string, number>,
  overrides: Record<string, unknown> = {},
): { services: Record<string, unknown>[] } {
  return {
    services: [
      {
        name: 'svc',
        listen: { host: '127.0.0.1', port: 0 },
        groups: Object.entries(groups).map(([name, instances]) => ({ name, instances })),
        weights,
        exposeGroupHeader: true,
        ...overrides,
      },
    ],
  }
}
