/**
 * The contenders: each one a separate process on loopback, started and stopped by the harness.
 * `direct` is the backend itself; the others forward to it.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { backendAddress, CLI, launchFlags, serverScript, type Backend } from './backends.js'
import { spawnChild, type Child } from './children.js'
import { haproxyConfig, nginxConfig, zddConfig, type BenchGroup } from './configs.js'

export const CONTENDER_NAMES = ['direct', 'zdd-proxy', 'zdd-baseline', 'zdd-workers', 'http-proxy', 'minimal-undici', 'haproxy', 'nginx'] as const
export type ContenderName = (typeof CONTENDER_NAMES)[number]

/** A started contender. */
export interface Contender {
  readonly name: string
  /** Where the load goes (backend path included). */
  readonly url: string
  /** Processes whose memory and CPU count as the proxy's (none for direct). */
  pids(): number[]
  /** Sends a signal to the contender's main process (no-op for direct). */
  signal(signal: NodeJS.Signals): void
  /** The end of the process's stdout and stderr (empty for direct). */
  output(): string
  /** zdd-proxy's admin API, when the harness asked for it (`ZddVariant.admin`). */
  readonly adminUrl?: string
  stop(): Promise<void>
}

export interface ContenderContext {
  readonly backend: Backend
  /** Scratch directory for generated config files. */
  readonly scratch: string
  /** CPU list for the proxy process when pinning. */
  readonly cpus?: string
  /** Worker processes for `zdd-workers`. */
  readonly workers: number
  /** CLI of another zdd-proxy build for the `zdd-baseline` contender. */
  readonly baselineCli?: string
  /** When set, the Node contenders run under `node --cpu-prof` and write their profiles here on exit. */
  readonly profileDir?: string
}

/** A contender that could not start here, and why. */
export interface Skipped {
  readonly skipped: string
}

/** A free loopback port (closed again at once; the proxy binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, child: Child, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (child.process.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await child.stop(1_000)
  throw new Error(`${child.name} did not accept connections on port ${port}: ${child.output().trim().slice(-300)}`)
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function pinned(ctx: ContenderContext): { cpus?: string } {
  return ctx.cpus === undefined ? {} : { cpus: ctx.cpus }
}

/** node flags that write a CPU profile on exit, when profiling. */
function profileArgs(ctx: ContenderContext): string[] {
  return ctx.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`]
}

function running(name: string, child: Child, port: number, path: string): Contender {
  return {
    name,
    url: `http://127.0.0.1:${port}${path}`,
    pids: () => child.tree(),
    signal: (signal) => void child.process.kill(signal),
    output: () => child.output(),
    stop: () => child.stop(),
  }
}

/** How to run one zdd-proxy: another build's CLI, extra `serve` arguments, node flags, config changes. */
export interface ZddVariant {
  readonly cli?: string
  readonly serveArgs?: readonly string[]
  readonly nodeFlags?: readonly string[]
  readonly service?: Readonly<Record<string, unknown>>
  /** Fields merged into the config's top level (e.g. `accessLog`). */
  readonly top?: Readonly<Record<string, unknown>>
  /** Wait for the admin listener too, and give its URL (side-by-side --dashboard-b). */
  readonly admin?: boolean
}

/** Starts `zdd-proxy serve` on a generated config. */
export async function startZdd(name: string, groups: readonly BenchGroup[], ctx: ContenderContext, variant: ZddVariant = {}): Promise<Contender> {
  const dir = mkdtempSync(join(ctx.scratch, 'zdd-'))
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(zddConfig(groups, variant.service, variant.top), null, 2))
  const cli = variant.cli ?? CLI
  const args = [...profileArgs(ctx), ...launchFlags(cli), ...(variant.nodeFlags ?? []), cli, 'serve', '--config', file, ...(variant.serveArgs ?? [])]
  const listening = /"event":"listening"[^\n]*"service":"bench"[^\n]*"port":(\d+)/
  // The admin listener opens after the proxy's: its line comes later.
  const ready = variant.admin === true ? new RegExp(`${listening.source}[\\s\\S]*"event":"admin_listening"[^\\n]*"port":(\\d+)`) : listening
  const { child, match } = await spawnChild(name, process.execPath, args, { ready, timeoutMs: 30_000, ...pinned(ctx) })
  const contender = running(name, child, Number(match![1]), ctx.backend.path)
  return variant.admin === true ? { ...contender, adminUrl: `http://127.0.0.1:${match![2]}` } : contender
}

/** True when this build's `serve` has a `--workers` option. */
function serveHasWorkers(): boolean {
  const help = execFileSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' })
  return /--workers\b/.test(help)
}

/** The two groups of the standard zdd-proxy contender: 80/20, on two ports of the backend when it has them. */
export function standardGroups(backend: Backend): BenchGroup[] {
  return [
    { name: 'blue', instances: [backendAddress(backend, 0)] },
    { name: 'green', instances: [backendAddress(backend, 1)] },
  ]
}

/** Starts a C peer; one that fails to start here is skipped with its last output line, not fatal. */
async function external(name: string, port: number, spawnIt: () => Promise<{ child: Child }>, backend: Backend): Promise<Contender | Skipped> {
  try {
    const { child } = await spawnIt()
    await waitForPort(port, child)
    return running(name, child, port, backend.path)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { skipped: `failed to start: ${message.split('\n').filter((line) => line.trim() !== '').at(-1) ?? message}` }
  }
}

/** Starts the minimal undici proxy over one or more upstream origins (picked at random per request). */
export async function startMinimalUndici(name: string, origins: readonly string[], ctx: ContenderContext): Promise<Contender> {
  const { child, match } = await spawnChild(name, process.execPath, [...profileArgs(ctx), serverScript('minimal-undici'), ...origins], {
    ready: /listening (\d+)/,
    ...pinned(ctx),
  })
  return running(name, child, Number(match![1]), ctx.backend.path)
}

/** Starts one contender, or says why it is skipped. */
export async function startContender(name: ContenderName, ctx: ContenderContext): Promise<Contender | Skipped> {
  const { backend } = ctx
  const target = backendAddress(backend)
  switch (name) {
    case 'direct':
      return { name, url: `http://${target}${backend.path}`, pids: () => [], signal: () => {}, output: () => '', stop: async () => {} }
    case 'zdd-proxy':
      return startZdd(name, standardGroups(backend), ctx)
    case 'zdd-baseline':
      if (ctx.baselineCli === undefined) return { skipped: 'no --baseline build given' }
      return startZdd(name, standardGroups(backend), ctx, { cli: ctx.baselineCli })
    case 'zdd-workers':
      if (!serveHasWorkers()) return { skipped: 'workers mode not implemented yet (serve has no --workers)' }
      return startZdd(`zdd-workers-${ctx.workers}`, standardGroups(backend), ctx, { serveArgs: ['--workers', String(ctx.workers)] })
    case 'minimal-undici':
      return startMinimalUndici(name, [`http://${target}`], ctx)
    case 'http-proxy': {
      const { child, match } = await spawnChild(name, process.execPath, [...profileArgs(ctx), serverScript(name), `http://${target}`], {
        ready: /listening (\d+)/,
        ...pinned(ctx),
      })
      return running(name, child, Number(match![1]), backend.path)
    }
    case 'haproxy': {
      if (!commandExists('haproxy')) return { skipped: 'haproxy not installed' }
      const port = await freePort()
      const file = join(mkdtempSync(join(ctx.scratch, 'haproxy-')), 'haproxy.cfg')
      writeFileSync(file, haproxyConfig(port, target))
      return external(name, port, () => spawnChild(name, 'haproxy', ['-db', '-f', file], pinned(ctx)), backend)
    }
    case 'nginx': {
      if (!commandExists('nginx')) return { skipped: 'nginx not installed' }
      const port = await freePort()
      const prefix = mkdtempSync(join(ctx.scratch, 'nginx-'))
      // Workers may run as an unprivileged user; they only need to read and traverse this folder.
      chmodSync(prefix, 0o755)
      for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, sub))
      writeFileSync(join(prefix, 'nginx.conf'), nginxConfig(prefix, port, target))
      const args = ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')]
      return external(name, port, () => spawnChild(name, 'nginx', args, pinned(ctx)), backend)
    }
  }
}

/** A fresh scratch directory under the OS temp folder. */
export function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-bench-'))
  // nginx workers may run as another user and must reach their config folder inside.
  chmodSync(dir, 0o755)
  return dir
}
