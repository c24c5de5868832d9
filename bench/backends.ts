/** The backends every contender forwards to: simpleservice or the minimal fixed-response server. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { spawnChild, type Child } from './children.js'

export type BackendKind = 'fixed' | 'simpleservice'

/** The built CLI and the built helper servers, next to this file in dist/. */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))

/**
 * The node flags a CLI's `#!/usr/bin/env -S node FLAGS` line gives it, so that the harness, which
 * starts it with `node` (to add profiling flags), runs it as `zdd-proxy` would run.
 */
export function launchFlags(cli: string): string[] {
  const firstLine = readFileSync(cli, 'utf8').split('\n', 1)[0]!
  const match = /^#!\S*env -S node\b(.*)$/.exec(firstLine)
  return match === null ? [] : match[1]!.split(' ').filter((flag) => flag !== '')
}
export const serverScript = (name: string): string => fileURLToPath(new URL(`./servers/${name}.js`, import.meta.url))

export interface Backend {
  readonly kind: BackendKind
  readonly child: Child
  /** Loopback ports of the same process (several only for the fixed backend with `ports` > 1). */
  readonly ports: readonly number[]
  /** The path every load run requests. */
  readonly path: string
}

/** `127.0.0.1:port` of the backend's n-th port (wrapping around). */
export function backendAddress(backend: Backend, index = 0): string {
  return `127.0.0.1:${backend.ports[index % backend.ports.length]}`
}

/** Starts a backend; `ports` > 1 only applies to the fixed backend. */
export async function startBackend(kind: BackendKind, ports = 1, cpus?: string): Promise<Backend> {
  if (kind === 'simpleservice') {
    const { child, match } = await spawnChild('simpleservice', process.execPath, [CLI, 'simpleservice'], {
      ready: /listening on port (\d+)/,
      env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_QUIET: '1' },
      ...(cpus === undefined ? {} : { cpus }),
    })
    return { kind, child, ports: [Number(match![1])], path: '/endpoint0' }
  }
  const { child, match } = await spawnChild('fixed-backend', process.execPath, [serverScript('fixed-backend'), '--ports', String(ports)], {
    ready: /ports ([\d,]+)\n/,
    timeoutMs: 60_000,
    ...(cpus === undefined ? {} : { cpus }),
  })
  return { kind, child, ports: match![1]!.split(',').map(Number), path: '/endpoint0' }
}
