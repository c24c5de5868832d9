/**
 * Every process the harness starts goes through here, so all of them are stopped by PID on a normal
 * end, on an error and on Ctrl-C. Processes that fork (nginx) have their children found in /proc and
 * stopped as well.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

const OUTPUT_LIMIT = 64 * 1024

/** A process started by the harness. */
export interface Child {
  readonly name: string
  readonly pid: number
  readonly process: ChildProcess
  /** The last 64 KiB of stdout and stderr. */
  output(): string
  /** The process and the children it forked (read from /proc now). */
  tree(): number[]
  /** SIGTERM, then SIGKILL after `graceMs`; also stops any forked child left behind. */
  stop(graceMs?: number): Promise<void>
}

export interface SpawnOptions {
  /** A line on stdout/stderr that says the process is ready; its match is returned. */
  readonly ready?: RegExp
  readonly env?: Record<string, string>
  readonly timeoutMs?: number
  /** CPU list for taskset (e.g. "0"), when pinning. */
  readonly cpus?: string
}

const running = new Set<Child>()
/**
 * Every PID started or seen forked during this run, for the record (and the leak test), with its
 * start time in clock ticks since boot so a later check is not fooled by a reused PID.
 */
export const startedPids: { name: string; pid: number; startTicks: number | null }[] = []

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or null when gone. */
export function startTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  } catch {
    return null
  }
}

/** Direct children of `pid`, from /proc (empty when the kernel doesn't expose them or pid is gone). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
    return text === '' ? [] : text.split(' ').map(Number)
  } catch {
    return []
  }
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

function remember(name: string, pid: number): void {
  if (!startedPids.some((entry) => entry.pid === pid)) startedPids.push({ name, pid, startTicks: startTicksOf(pid) })
}

/** Starts a process and waits for its ready line; rejects (after killing it) on exit or timeout. */
export async function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<{ child: Child; match: RegExpMatchArray | undefined }> {
  const [file, argv] = options.cpus === undefined ? [command, args] : ['taskset', ['-c', options.cpus, command, ...args]]
  const proc = spawn(file, argv, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  if (proc.pid === undefined) {
    await new Promise((resolve) => proc.once('error', resolve))
    throw new Error(`${name}: cannot start ${command}`)
  }
  const pid = proc.pid
  remember(name, pid)
  let text = ''
  let onOutput: (() => void) | undefined
  const append = (chunk: Buffer): void => {
    text += chunk.toString('utf8')
    if (text.length > OUTPUT_LIMIT * 2) text = text.slice(-OUTPUT_LIMIT)
    onOutput?.()
  }
  proc.stdout!.on('data', append)
  proc.stderr!.on('data', append)
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  let forked: number[] = []
  const tree = (): number[] => {
    const now = childrenOf(pid)
    for (const childPid of now) {
      if (!forked.includes(childPid)) forked.push(childPid)
      remember(`${name} (child)`, childPid)
    }
    return [pid, ...now]
  }
  const child: Child = {
    name,
    pid,
    process: proc,
    output: () => text.slice(-OUTPUT_LIMIT),
    tree,
    async stop(graceMs = 5_000) {
      tree()
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM')
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
        await exited
        clearTimeout(timer)
      }
      // Forked children normally leave with their parent; a straggler is ours to end.
      for (const childPid of forked) {
        if (isAlive(childPid)) process.kill(childPid, 'SIGKILL')
      }
      forked = []
      running.delete(child)
    },
  }
  running.add(child)
  if (options.ready === undefined) return { child, match: undefined }
  const ready = options.ready
  try {
    const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${name}: not ready after ${options.timeoutMs ?? 15_000} ms`)), options.timeoutMs ?? 15_000)
      const finish = (error?: Error, found?: RegExpMatchArray): void => {
        clearTimeout(timer)
        onOutput = undefined
        if (error !== undefined) reject(error)
        else resolve(found!)
      }
      onOutput = () => {
        const found = text.match(ready)
        if (found !== null) finish(undefined, found)
      }
      void exited.then(() => finish(new Error(`${name} exited before it was ready: ${text.trim().split('\n').slice(-3).join(' | ')}`)))
      onOutput()
    })
    return { child, match }
  } catch (error) {
    await child.stop(1_000)
    throw error
  }
}

/** Stops every running child, in parallel. */
export async function stopAllChildren(graceMs = 5_000): Promise<void> {
  await Promise.all([...running].map((child) => child.stop(graceMs)))
}

let installed = false

/**
 * Stops everything on Ctrl-C / SIGTERM (exit 130 / 143) and, as a last resort, SIGKILLs what is
 * left when the harness exits any other way.
 */
export function installCleanup(): void {
  if (installed) return
  installed = true
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping every process started\n`)
    void stopAllChildren(2_000).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.on('exit', () => {
    for (const child of running) {
      for (const pid of child.tree()) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
  })
}
