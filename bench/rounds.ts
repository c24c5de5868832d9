/**
 * Interleaved rounds: every contender once per round, in the same order (A B C … A B C …), each
 * run preceded by a short warm-up of its own so idle-closed upstream connections are open again.
 * While a run lasts, the proxy's and the backend's /proc figures are polled.
 */
import type { Backend } from './backends.js'
import type { Contender } from './contenders.js'
import { runAutocannon, type LoadResult } from './load.js'
import { runPaced } from './paced.js'
import { ProcSampler } from './procstat.js'
import type { Sample } from './summary.js'

/** Closed-loop autocannon load, or open-loop load at a fixed rate. */
export type LoadShape =
  | { readonly kind: 'throughput'; readonly connections: number }
  | { readonly kind: 'rate'; readonly rate: number; readonly connections: number }

export interface RoundsOptions {
  readonly rounds: number
  /** Seconds of each measured run. */
  readonly seconds: number
  /** Seconds of load before the first round (JIT, connection pools). */
  readonly initialWarmupSeconds: number
  /** Seconds of load right before each measured run. */
  readonly warmupSeconds: number
  /** Quiet time between the warm-up and the measured run. */
  readonly pauseMs: number
  readonly shape: LoadShape
  readonly progress: (message: string) => void
  /** Contenders that get a SIGUSR2 a third into each measured run (workers restart under load). */
  readonly roll?: (contender: Contender) => boolean
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function load(url: string, shape: LoadShape, seconds: number): Promise<LoadResult> {
  if (shape.kind === 'throughput') return runAutocannon({ url, connections: shape.connections, seconds })
  return runPaced({ url, rate: shape.rate, seconds, connections: shape.connections })
}

/** One measured run with /proc sampling of the proxy, the backend and this process. */
export async function measureRun(contender: Contender, backend: Backend, shape: LoadShape, seconds: number, round: number): Promise<Sample> {
  const proxyPids = contender.pids()
  const proxy = proxyPids.length === 0 ? undefined : new ProcSampler(() => contender.pids())
  const backendSampler = new ProcSampler(() => [backend.child.pid], 500)
  const generatorStart = process.cpuUsage()
  const startedAt = process.hrtime.bigint()
  proxy?.start()
  backendSampler.start()
  const result = await load(contender.url, shape, seconds)
  const proxyUsage = proxy?.stop()
  const backendUsage = backendSampler.stop()
  const wall = Number(process.hrtime.bigint() - startedAt) / 1e9
  const generator = process.cpuUsage(generatorStart)
  return {
    contender: contender.name,
    round,
    load: result,
    ...(proxyUsage === undefined ? {} : { proxy: proxyUsage }),
    backendCores: backendUsage.cpuCores,
    generatorCores: (generator.user + generator.system) / 1e6 / wall,
  }
}

/** Runs the rounds and returns every sample, in the order measured. */
export async function runRounds(contenders: readonly Contender[], backend: Backend, options: RoundsOptions): Promise<Sample[]> {
  const samples: Sample[] = []
  for (const contender of contenders) {
    options.progress(`warm-up ${contender.name}`)
    await load(contender.url, options.shape, options.initialWarmupSeconds)
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const contender of contenders) {
      options.progress(`round ${round}/${options.rounds} ${contender.name}`)
      if (options.warmupSeconds > 0) await load(contender.url, options.shape, options.warmupSeconds)
      await pause(options.pauseMs)
      // A third into the run: a rolling restart (each worker draining up to drainSeconds) should end
      // inside the measured window, even for short runs.
      const hup = options.roll?.(contender) === true ? setTimeout(() => contender.signal('SIGUSR2'), (options.seconds * 1000) / 3) : undefined
      const sample = await measureRun(contender, backend, options.shape, options.seconds, round)
      clearTimeout(hup)
      samples.push(sample)
      options.progress(`round ${round}/${options.rounds} ${contender.name}: ${Math.round(sample.load.rps)} req/s`)
    }
  }
  return samples
}
