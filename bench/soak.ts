/**
 * `--soak MINUTES`: zdd-proxy in front of four simpleservice instances (0.9 ×2, 1.0 ×2, 80/20, health
 * checks every second) at a fixed rate for MINUTES, while the instances churn: every 20 s one of
 * them is killed (SIGKILL or SIGTERM, in turn) and started again on its port 5 s later. Each minute
 * records the requests that failed (and how), the proxy's warnings, its RSS, its open file
 * descriptors and its sockets in CLOSE_WAIT. A socket in CLOSE_WAIT for a moment is a peer's close
 * not yet processed; one still there a minute later is a connection the proxy never closed: a leak.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { CLI } from './backends.js'
import { spawnChild, type Child } from './children.js'
import { startZdd, type ContenderContext } from './contenders.js'
import { runPaced } from './paced.js'
import { ProcSampler } from './procstat.js'

/** One minute of the soak. */
export interface SoakMinute {
  readonly minute: number
  readonly requests: number
  readonly non2xx: number
  readonly errors: number
  /** The highest RSS polled during the minute (every 250 ms). */
  readonly rssMiB: number
  /** At the minute's end. */
  readonly fds: number
  readonly closeWait: number
  /** Inodes of the sockets in CLOSE_WAIT, to tell a lingering one from a fresh one next minute. */
  readonly closeWaitInodes: readonly string[]
  /** Failed requests by what they saw (`status 502`, an error code). */
  readonly failures: Readonly<Record<string, number>>
  /** The proxy's warning and error log lines of the minute (at most 5), when requests failed. */
  readonly warnings: readonly string[]
}

export interface SoakResult {
  readonly rate: number
  readonly minutes: readonly SoakMinute[]
  /** What the churn did, in order, with the second it happened. */
  readonly churn: readonly string[]
}

const CHURN_EVERY_MS = 20_000
const DOWN_FOR_MS = 5_000

async function startInstance(version: string, port: number): Promise<{ child: Child; port: number }> {
  const { child, match } = await spawnChild(`simpleservice ${version}`, process.execPath, [CLI, 'simpleservice'], {
    ready: /listening on port (\d+)/,
    env: { PORT0: String(port), HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1' },
  })
  return { child, port: Number(match![1]) }
}

/** Open file descriptors of `pid`, and which of its TCP sockets are in CLOSE_WAIT. */
function descriptorsOf(pid: number): { fds: number; closeWait: number; closeWaitInodes: string[] } {
  const inodes = new Set<string>()
  let fds = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (target.startsWith('socket:[')) inodes.add(target.slice(8, -1))
    } catch {
      // Closed between the listing and the read.
    }
  }
  const closeWaitInodes: string[] = []
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // st 08 = CLOSE_WAIT; field 9 is the socket's inode.
      if (fields[3] === '08' && inodes.has(fields[9] ?? '')) closeWaitInodes.push(fields[9]!)
    }
  }
  return { fds, closeWait: closeWaitInodes.length, closeWaitInodes }
}

/** The proxy's log lines at warn level or above written since `sinceMs`, at most `limit`. */
function warningsSince(output: string, sinceMs: number, limit: number): string[] {
  const lines: string[] = []
  for (const line of output.split('\n')) {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0)
    const time = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '')
    if (level >= 40 && time >= sinceMs) lines.push(line)
  }
  return lines.slice(-limit)
}

export async function runSoak(minutes: number, rate: number, ctx: ContenderContext, progress: (message: string) => void): Promise<SoakResult> {
  const versions = ['0.9', '0.9', '1.0', '1.0']
  const instances = await Promise.all(versions.map((version) => startInstance(version, 0)))
  const addresses = instances.map((instance) => `127.0.0.1:${instance.port}`)
  const proxy = await startZdd('zdd-proxy (soak)', [
    { name: '0.9', instances: addresses.slice(0, 2) },
    { name: '1.0', instances: addresses.slice(2) },
  ], ctx, {
    service: {
      healthChecks: [{ protocol: 'HTTP', path: '/health', gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2, delaySeconds: 0 }],
      retries: 2,
      timeouts: { connectMs: 1_000, headersMs: 2_000, idleMs: 10_000 },
    },
  })
  const churn: string[] = []
  const startedAt = Date.now()
  let next = 0
  let stopping = false
  const churning = (async () => {
    while (!stopping) {
      await new Promise((resolve) => setTimeout(resolve, CHURN_EVERY_MS))
      if (stopping) break
      const index = next++ % instances.length
      const victim = instances[index]!
      const signal = next % 2 === 0 ? 'SIGTERM' : 'SIGKILL'
      churn.push(`${Math.round((Date.now() - startedAt) / 1000)} s: ${signal} ${versions[index]} on port ${victim.port}`)
      victim.child.process.kill(signal)
      await new Promise((resolve) => victim.child.process.once('exit', resolve))
      await new Promise((resolve) => setTimeout(resolve, DOWN_FOR_MS))
      instances[index] = await startInstance(versions[index]!, victim.port)
    }
  })()
  const pid = proxy.pids()[0]!
  const rows: SoakMinute[] = []
  try {
    for (let minute = 1; minute <= minutes; minute++) {
      progress(`soak minute ${minute} of ${minutes}`)
      const minuteStart = Date.now()
      // The proxy's RSS polled through the minute: its peak, not wherever the saw-tooth stood at the end.
      const sampler = new ProcSampler(() => [pid], 250)
      sampler.start()
      const result = await runPaced({ url: proxy.url, rate, seconds: 60, connections: 64 })
      const rss = sampler.stop().peakRssMiB
      const failed = result.non2xx + result.errors > 0
      rows.push({
        minute,
        requests: result.requests,
        non2xx: result.non2xx,
        errors: result.errors,
        rssMiB: rss,
        ...descriptorsOf(pid),
        failures: result.failures,
        warnings: failed ? warningsSince(proxy.output(), minuteStart, 5) : [],
      })
    }
  } finally {
    stopping = true
    await churning
    await proxy.stop()
    await Promise.all(instances.map((instance) => instance.child.stop()))
  }
  return { rate, minutes: rows, churn }
}

/**
 * The soak's verdict lines: no failed request; RSS flat: V8's heap grows between full collections
 * and drops at each (a saw-tooth with a period of minutes), so a leak shows as peaks that keep
 * rising: the second half's highest RSS against the first half's (growth <= 5 %), lowest shown beside;
 * descriptors flat from the middle of the run; and no socket left in CLOSE_WAIT from one minute's end
 * to the next.
 */
export function soakVerdict(result: SoakResult): string[] {
  const rows = result.minutes
  const lines: string[] = []
  const check = (ok: boolean, text: string) => lines.push(`${ok ? '[ok ]' : '[NO ]'} ${text}`)
  const failed = rows.reduce((sum, row) => sum + row.non2xx + row.errors, 0)
  const how = new Map<string, number>()
  for (const row of rows) for (const [what, count] of Object.entries(row.failures)) how.set(what, (how.get(what) ?? 0) + count)
  const detail = how.size === 0 ? '' : ` (${[...how].map(([what, count]) => `${what}: ${count}`).join(', ')})`
  check(failed === 0, `${failed} failed requests of ${rows.reduce((sum, row) => sum + row.requests, 0)}${detail}`)
  if (rows.length >= 2) {
    const half = Math.floor(rows.length / 2)
    const [early, late] = [rows.slice(0, half), rows.slice(half)]
    const rss = (part: readonly SoakMinute[]) => part.map((row) => row.rssMiB)
    const [earlyPeak, latePeak] = [Math.max(...rss(early)), Math.max(...rss(late))]
    const [earlyLow, lateLow] = [Math.min(...rss(early)), Math.min(...rss(late))]
    const growth = (from: number, to: number) => (from > 0 ? (to - from) / from : 0)
    check(
      growth(earlyPeak, latePeak) <= 0.05,
      `RSS peak ${earlyPeak.toFixed(1)} MiB in minutes 1-${half}, ${latePeak.toFixed(1)} MiB in minutes ${half + 1}-${rows.length} ` +
        `(${(growth(earlyPeak, latePeak) * 100).toFixed(1)} %; lowest ${earlyLow.toFixed(1)} and ${lateLow.toFixed(1)}) (flat: peak growth <= 5 %)`,
    )
    const middle = rows[half]!
    const last = rows.at(-1)!
    check(
      growth(middle.fds, last.fds) <= 0.05 || last.fds - middle.fds <= 2,
      `open descriptors ${middle.fds} → ${last.fds} from minute ${middle.minute} (from minute 1: ${rows[0]!.fds} → ${last.fds}) (flat: growth <= 5 % or <= 2)`,
    )
  }
  let lingering = 0
  for (let i = 1; i < rows.length; i++) {
    const before = new Set(rows[i - 1]!.closeWaitInodes)
    lingering += rows[i]!.closeWaitInodes.filter((inode) => before.has(inode)).length
  }
  check(lingering === 0, `sockets still in CLOSE_WAIT a minute later: ${lingering} (at each minute's end: ${rows.map((row) => row.closeWait).join(' ')})`)
  for (const row of rows) for (const line of row.warnings) lines.push(`  minute ${row.minute}: ${line}`)
  return lines
}
