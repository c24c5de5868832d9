import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { builtFile } from './built.js'

/** The built CLI; `npm test` builds before running vitest. */
export const CLI = builtFile('cli/main.ts')

export interface Started {
  readonly child: ChildProcess
  readonly pid: number
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** The first line that matched `waitFor`, with its groups. */
  readonly match: RegExpMatchArray
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>
  /** Sends a signal (default SIGTERM) and waits for the exit; SIGKILLs after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>
  /**
   * Waits until output printed after this call matches `pattern`: call it before the action that
   * prints the line, or the line may come first and be missed.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
}

const running = new Set<Started>()

export interface StartOptions {
  /** A line on stdout/stderr that says the process is ready; its match is returned. */
  waitFor: RegExp
  env?: Record<string, string>
  timeoutMs?: number
}

/** Runs `zdd-proxy <args>` as a real process and waits until it prints `waitFor`. */
export async function startCli(args: readonly string[], options: StartOptions): Promise<Started> {
  return startProcess(process.execPath, [CLI, ...args], options)
}

export async function startProcess(
  command: string,
  args: readonly string[],
  options: StartOptions,
): Promise<Started> {
  const child = spawn(command, args, {
    env: { ...process.env, ZDD_LOG_LEVEL: process.env.ZDD_LOG_LEVEL ?? 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8')
    for (const waiter of waiters) waiter()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  /** The process exited and its output has all been read. */
  let ended = false
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      void outputEnded(child).then(() => {
        running.delete(started)
        ended = true
        for (const waiter of waiters) waiter()
        resolve(code ?? signal ?? -1)
      })
    })
  })

  const waitForLine = (pattern: RegExp, timeoutMs = options.timeoutMs ?? 15_000, from = 0) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const found = text.slice(from).match(pattern)
        if (found) {
          cleanup()
          resolve(found)
        } else if (ended) {
          cleanup()
          reject(new Error(`process exited before printing ${pattern}:\n${text}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${pattern}:\n${text}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })

  const started: Started = {
    child,
    pid: child.pid!,
    output: () => text,
    match: [] as unknown as RegExpMatchArray,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        const result = await exited
        clearTimeout(timer)
        return result
      }
      return exited
    },
    waitForLine: (pattern, timeoutMs) => waitForLine(pattern, timeoutMs, text.length),
  }
  running.add(started)
  try {
    const match = await waitForLine(options.waitFor)
    ;(started as { match: RegExpMatchArray }).match = match
  } catch (error) {
    await started.stop('SIGKILL')
    throw error
  }
  return started
}

/** Stops every process the helpers started and that is still running. Call in afterAll/afterEach. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((started) => started.stop('SIGKILL')))
}

/** Runs `zdd-proxy <args>` to completion and returns its exit code and output. */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  child.stdin.end(options.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
  clearTimeout(timer)
  await outputEnded(child)
  return { code: code ?? (signal ? 128 : -1), stdout, stderr }
}

/**
 * Resolves once an exited child's output has all been read: 'exit' may come before the last
 * 'data' of its pipes. At most `capMs` later, for a pipe some process it left behind still holds.
 */
export function outputEnded(child: ChildProcess, capMs = 2_000): Promise<void> {
  const pipes = [child.stdout, child.stderr].filter((pipe) => pipe !== null && !pipe.readableEnded && !pipe.destroyed)
  if (pipes.length === 0) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, capMs)
    let open = pipes.length
    for (const pipe of pipes) {
      pipe!.once('close', () => {
        if (--open === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}

/** The first match of `pattern` in everything `started` printed, waiting for it up to `timeoutMs`. */
export async function outputMatch(started: Started, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  for (let waited = 0; ; waited += 20) {
    const match = pattern.exec(started.output())
    if (match !== null) return match
    if (waited > timeoutMs) throw new Error(`no ${pattern} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
