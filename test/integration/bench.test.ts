/**
 * `npm run bench -- --quick` as a smoke run: it finishes, its numbers parse, every contender it
 * started is stopped. Speed itself is not checked here (that is what the bench reports).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { outputEnded } from '../helpers/processes.js'

const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url))
const LIMIT_MS = 120_000

interface Summary {
  name: string
  rps: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  non2xx: number
  errors: number
  ratios: Record<string, number | null>
  addedP50Ms: number | null
  addedP99Ms: number | null
  peakRssMiB: number | null
  cpuUsPerRequest: number | null
}

interface BenchRecord {
  notices: string[]
  throughput: { summaries: Summary[] }
  rate: { summaries: Summary[] }
  scaling: { selection: { groups: number; instances: number; nsPerOp: number }[]; summaries: Summary[] }
  micro: { name: string; nsPerOp: number }[]
  processes: { name: string; pid: number; startTicks: number | null }[]
}

/** True while the process the harness started (same PID and start time) still runs. */
function stillRunning(entry: { pid: number; startTicks: number | null }): boolean {
  try {
    const stat = readFileSync(`/proc/${entry.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // A reused PID belongs to someone else's process: its start time differs.
    return fields[0] !== 'Z' && (entry.startTicks === null || Number(fields[19]) === entry.startTicks)
  } catch {
    return false
  }
}

/**
 * Runs the harness with `args` (SIGINT after LIMIT_MS lets it stop what it started) and checks its
 * exit code and output with `check`; a failure names the tails of what it printed, so one on a
 * loaded machine can be told apart.
 */
async function runBench(args: readonly string[], check: (code: number | null, stdout: string, stderr: string) => void): Promise<void> {
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGINT'), LIMIT_MS)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  await outputEnded(child)
  try {
    check(code, stdout, stderr)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${message}\n--- bench stdout (tail) ---\n${stdout.slice(-3000)}\n--- bench stderr (tail) ---\n${stderr.slice(-2000)}`)
  }
}

describe('bench --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'zdd-bench-test-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it(
    'runs every mode, reports parseable figures and leaves nothing running',
    async () => {
      await runBench(['--quick', '--out', out], (code, stdout, stderr) => {
        expect(code, stderr).toBe(0)

        const file = /results: (.+\.json)/.exec(stdout)?.[1]
        expect(file, stdout).toBeDefined()
        const record = JSON.parse(readFileSync(file!, 'utf8')) as BenchRecord

        const names = record.throughput.summaries.map((summary) => summary.name)
        expect(names).toEqual(expect.arrayContaining(['direct', 'zdd-proxy', 'http-proxy', 'minimal-undici']))
        for (const summary of [...record.throughput.summaries, ...record.rate.summaries, ...record.scaling.summaries]) {
          expect(summary.rps, summary.name).toBeGreaterThan(0)
          for (const value of [summary.p50Ms, summary.p99Ms, summary.p999Ms, summary.non2xx, summary.errors]) {
            expect(Number.isFinite(value), summary.name).toBe(true)
          }
        }
        const zdd = record.throughput.summaries.find((summary) => summary.name === 'zdd-proxy')!
        for (const value of [zdd.ratios['direct'], zdd.ratios['http-proxy'], zdd.ratios['minimal-undici'], zdd.peakRssMiB, zdd.cpuUsPerRequest]) {
          expect(value).toBeGreaterThan(0)
        }
        const zddRate = record.rate.summaries.find((summary) => summary.name === 'zdd-proxy')!
        expect(Number.isFinite(zddRate.addedP50Ms)).toBe(true)
        expect(Number.isFinite(zddRate.addedP99Ms)).toBe(true)
        expect(record.scaling.selection).toHaveLength(12)
        expect(record.scaling.summaries.map((summary) => summary.name)).toEqual(['2g x 1', '2g x 1000', 'minimal-undici x 2', 'minimal-undici x 2000'])
        expect(record.micro.length).toBeGreaterThan(10)
        for (const entry of [...record.scaling.selection, ...record.micro]) expect(entry.nsPerOp).toBeGreaterThan(0)
        // Absent C peers and the workers contender are skipped with a notice, not an error.
        for (const name of ['haproxy', 'nginx']) {
          if (!names.includes(name)) expect(record.notices.join('\n')).toContain(`${name}: skipped`)
        }
        expect(stdout).toContain('Throughput')
        // One target line per mode that ran, each with its verdict.
        expect(stdout).toContain('Hot-path targets')
        expect(stdout).toMatch(/^\[(ok |NO |\? )\] zdd-proxy CPU efficiency \S+ minimal-undici's/m)
        expect(stdout).toMatch(/^\[(ok |NO |\? )\] zdd-proxy added p99 /m)
        expect(stdout).toMatch(/^\[(ok |NO |\? )\] 2 groups x 1000 instances keep /m)

        expect(record.processes.length).toBeGreaterThanOrEqual(6)
        const left = record.processes.filter(stillRunning)
        expect(left).toEqual([])
      })
    },
    LIMIT_MS + 15_000,
  )
})

describe('bench --replicas --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'zdd-bench-test-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('measures the time to the last replica, prints it and leaves nothing running (etcd included)', async () => {
    await runBench(['--replicas', '--quick', '--out', out], (code, stdout, stderr) => {
      expect(code, stderr).toBe(0)
      expect(stdout).toMatch(/^Replicas: 3 replicas on one etcd, 30 weight changes through random replicas, 100 req\/s on each \(0 failed\)$/m)
      expect(stdout).toMatch(/^\[(ok |NO )\] p99 from the writer's 200 to the last replica applying the change: [\d.]+ ms \(target ≤ 250 ms\)$/m)
      const record = JSON.parse(readFileSync(/results: (.+\.json)/.exec(stdout)![1]!, 'utf8')) as BenchRecord & { replicas: { applied: { p99: number } } }
      expect(record.replicas.applied.p99).toBeGreaterThanOrEqual(0)
      expect(record.processes.map((entry) => entry.name)).toEqual(expect.arrayContaining(['etcd', 'zdd-replica-1', 'zdd-replica-3']))
      expect(record.processes.filter(stillRunning)).toEqual([])
    })
  }, LIMIT_MS + 15_000)
})
