/**
 * `npm run bench`: starts a backend and the contenders, runs the selected modes, prints a summary
 * and writes everything measured to a JSON file. Every process it starts is stopped by PID at the
 * end, on an error and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs, type BenchOptions } from './args.js'
import { startBackend, type Backend } from './backends.js'
import { installCleanup, startedPids, stopAllChildren } from './children.js'
import { scratchDir, startContender, type Contender, type ContenderContext } from './contenders.js'
import { runMicro, type MicroResult } from './micro.js'
import { acceptanceLines, microTable, rateTable, scalingTables, throughputTable } from './report.js'
import { runRounds, type LoadShape } from './rounds.js'
import { FULL_LAYOUTS, portsNeeded, QUICK_LAYOUTS, runScaling, type ScalingResult } from './scaling.js'
import { runReplicas, type ReplicasResult } from './replicas.js'
import { runSoak, soakVerdict, type SoakResult } from './soak.js'
import { summarise, type ContenderSummary, type Sample } from './summary.js'
import { renderTable } from './table.js'

const REFERENCES = ['direct', 'http-proxy', 'minimal-undici', 'haproxy', 'nginx', 'zdd-baseline']

const startClock = Date.now()
// BENCH_PROGRESS=1 logs progress with timestamps when stderr is not a terminal (CI logs, debugging).
const progressLog = process.env.BENCH_PROGRESS === '1' && !process.stderr.isTTY
const progress = (message: string): void => {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`)
  else if (progressLog && message !== '') process.stderr.write(`[${((Date.now() - startClock) / 1000).toFixed(1)} s] ${message}\n`)
}

interface Machine {
  cpus: number
  cpuModel: string
  memoryMiB: number
  node: string
  loadavg: number[]
}

function machine(): Machine {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryMiB: Math.round(totalmem() / 2 ** 20), node: process.version, loadavg: loadavg() }
}

/** Starts the requested contenders; skipped ones become notices. Ratios need direct, so it comes first. */
async function startContenders(options: BenchOptions, ctx: ContenderContext, notices: string[]): Promise<Contender[]> {
  const started: Contender[] = []
  for (const name of options.contenders) {
    progress(`starting ${name}`)
    const result = await startContender(name, ctx)
    if ('skipped' in result) notices.push(`${name}: skipped, ${result.skipped}`)
    else started.push(result)
  }
  return started
}

function context(options: BenchOptions, backend: Backend, scratch: string): ContenderContext {
  return {
    backend,
    scratch,
    workers: options.workers,
    ...(options.pin ? { cpus: options.pin.proxy } : {}),
    ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    ...(options.baselineCli === undefined ? {} : { baselineCli: options.baselineCli }),
  }
}

interface ModeResult {
  samples: Sample[]
  summaries: ContenderSummary[]
}

async function comparison(options: BenchOptions, shape: LoadShape, ctx: ContenderContext, backend: Backend, notices: string[]): Promise<ModeResult> {
  const contenders = await startContenders(options, ctx, notices)
  try {
    const samples = await runRounds(contenders, backend, {
      rounds: options.rounds,
      seconds: shape.kind === 'rate' ? options.rateSeconds : options.seconds,
      initialWarmupSeconds: options.initialWarmupSeconds,
      warmupSeconds: options.warmupSeconds,
      pauseMs: options.quick ? 100 : 200,
      shape,
      progress,
      roll: (contender) => options.roll && contender.name.startsWith('zdd-workers'),
    })
    return { samples, summaries: summarise(samples, REFERENCES) }
  } finally {
    await Promise.all(contenders.map((contender) => contender.stop()))
  }
}

async function main(): Promise<void> {
  installCleanup()
  const options = await parseArgs()
  const scratch = scratchDir()
  const notices: string[] = []
  const startedAt = new Date()
  const before = machine()
  if (options.pin !== undefined) execFileSync('taskset', ['-cp', options.pin.generator, String(process.pid)], { stdio: 'ignore' })
  const micro = options.quick ? { batchMs: 5, batches: 3 } : { batchMs: 50, batches: 7 }
  let throughput: ModeResult | undefined
  let rate: ModeResult | undefined
  let scaling: ScalingResult | undefined
  let microResults: MicroResult[] | undefined
  let soak: SoakResult | undefined
  let replicas: ReplicasResult | undefined
  try {
    if (options.modes.includes('throughput') || options.modes.includes('rate')) {
      // Two ports of one process, so zdd-proxy's two groups are two instances of the same backend.
      const backend = await startBackend(options.backend, 2, options.pin?.backend)
      const ctx = context(options, backend, scratch)
      if (options.modes.includes('throughput')) {
        throughput = await comparison(options, { kind: 'throughput', connections: options.connections }, ctx, backend, notices)
      }
      if (options.modes.includes('rate')) {
        const shape: LoadShape = { kind: 'rate', rate: options.rate, connections: options.rateConnections }
        rate = await comparison(options, shape, ctx, backend, notices)
      }
      await backend.child.stop()
    }
    if (options.modes.includes('scaling')) {
      const layouts = options.quick ? QUICK_LAYOUTS : FULL_LAYOUTS
      progress(`starting a backend on ${portsNeeded(layouts)} ports`)
      const backend = await startBackend('fixed', portsNeeded(layouts), options.pin?.backend)
      const ctx = context(options, backend, scratch)
      scaling = await runScaling(
        backend,
        ctx,
        layouts,
        {
          rounds: options.rounds,
          seconds: options.scalingSeconds,
          initialWarmupSeconds: options.initialWarmupSeconds,
          warmupSeconds: options.warmupSeconds,
          pauseMs: options.quick ? 100 : 200,
          shape: { kind: 'throughput', connections: options.connections },
          progress,
        },
        micro,
      )
      await backend.child.stop()
    }
    if (options.modes.includes('micro')) {
      progress('micro-benchmarks')
      microResults = runMicro(micro)
    }
    if (options.modes.includes('soak')) {
      // The soak's backends are its own simpleservice instances; this one only fills the context.
      const backend = await startBackend('fixed', 1)
      soak = await runSoak(options.soakMinutes, options.soakRate, context(options, backend, scratch), progress)
      await backend.child.stop()
    }
    if (options.modes.includes('replicas')) {
      const backend = await startBackend('fixed', 2, options.pin?.backend)
      const result = await runReplicas(options.replicas, options.replicaChanges, options.replicaRate, context(options, backend, scratch), progress)
      if ('skipped' in result) notices.push(`replicas: skipped, ${result.skipped}`)
      else replicas = result
      await backend.child.stop()
    }
  } finally {
    progress('stopping')
    await stopAllChildren()
    rmSync(scratch, { recursive: true, force: true })
    progress('')
  }

  const record = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...before, loadavgAtEnd: loadavg() },
    options,
    notices: [...new Set(notices)],
    throughput,
    rate,
    scaling,
    micro: microResults,
    soak,
    replicas,
    processes: startedPids,
  }
  mkdirSync(options.outDir, { recursive: true })
  const file = join(options.outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`)

  const out: string[] = []
  const m = record.machine
  out.push(`zdd-proxy bench  ${startedAt.toISOString()}  ${m.cpus} CPUs (${m.cpuModel}), node ${m.node}, load avg ${m.loadavg.map((v) => v.toFixed(1)).join(' ')}`)
  out.push(`backend ${options.backend}, ${options.rounds} interleaved rounds${options.quick ? ' (quick: a smoke run, not a measurement)' : ''}${options.pin ? ', pinned' : ''}${options.roll ? ', SIGUSR2 (rolling restart) to zdd-workers a third into each run' : ''}`)
  for (const notice of record.notices) out.push(`notice: ${notice}`)
  if (throughput !== undefined) out.push('', `Throughput: autocannon, ${options.connections} connections, ${options.seconds} s runs, no cookies (every request is a new client); medians; ratios per round`, throughputTable(throughput.summaries))
  if (rate !== undefined) out.push('', `Fixed rate: ${options.rate} req/s open loop, ${options.rateSeconds} s runs; added = contender - direct in the same round, median`, rateTable(rate.summaries))
  if (scaling !== undefined) out.push('', `Scaling: route selection in ns/op; end to end ${options.connections} connections, ${options.scalingSeconds} s runs`, scalingTables(scaling))
  if (microResults !== undefined) out.push('', 'Micro-benchmarks (this process, idle machine parts)', microTable(microResults))
  if (soak !== undefined) {
    const rows = soak.minutes.map((row) => [String(row.minute), String(row.requests), String(row.non2xx), String(row.errors), row.rssMiB.toFixed(1), String(row.fds), String(row.closeWait)])
    out.push('', `Soak: ${soak.rate} req/s for ${soak.minutes.length} min, an instance killed or terminated every 20 s and back 5 s later`, renderTable(['minute', 'requests', 'non2xx', 'errors', 'RSS MiB', 'fds', 'CLOSE_WAIT'], rows))
    out.push('', 'Soak verdict', ...soakVerdict(soak), `churn: ${soak.churn.join('; ')}`)
  }
  if (replicas !== undefined) {
    const ms = (value: number) => value.toFixed(1)
    const failed = replicas.load.reduce((sum, run) => sum + run.non2xx + run.errors, 0)
    out.push(
      '',
      `Replicas: ${replicas.replicas} replicas on one etcd, ${replicas.changes} weight changes through random replicas, ${replicas.rate} req/s on each (${failed} failed)`,
      renderTable(
        ['ms', 'p50', 'p90', 'p99', 'max'],
        [
          ['writer: PUT → 200', ms(replicas.write.p50), ms(replicas.write.p90), ms(replicas.write.p99), ms(replicas.write.max)],
          ["writer's 200 → last replica applied", ms(replicas.applied.p50), ms(replicas.applied.p90), ms(replicas.applied.p99), ms(replicas.applied.max)],
        ],
      ),
      `[${replicas.applied.p99 <= 250 ? 'ok ' : 'NO '}] p99 from the writer's 200 to the last replica applying the change: ${ms(replicas.applied.p99)} ms (target ≤ 250 ms)`,
    )
  }
  const acceptance = acceptanceLines(throughput?.summaries, rate?.summaries, scaling)
  if (acceptance.length > 0) out.push('', 'Hot-path targets', ...acceptance)
  out.push('', `results: ${file}`)
  process.stdout.write(`${out.join('\n')}\n`)
}

main().catch(async (error: unknown) => {
  process.stderr.write(`\nbench: ${error instanceof Error ? error.message : String(error)}\n`)
  await stopAllChildren(2_000)
  process.exit(1)
})
