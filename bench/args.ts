/** Command-line flags of `npm run bench` (yargs), resolved into one options object. */
import { cpus } from 'node:os'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import type { BackendKind } from './backends.js'
import { CONTENDER_NAMES, type ContenderName } from './contenders.js'

export type Mode = 'throughput' | 'rate' | 'scaling' | 'micro' | 'soak' | 'replicas'

export interface BenchOptions {
  readonly modes: readonly Mode[]
  readonly quick: boolean
  readonly seconds: number
  readonly connections: number
  readonly rounds: number
  readonly warmupSeconds: number
  readonly initialWarmupSeconds: number
  readonly contenders: readonly ContenderName[]
  readonly backend: BackendKind
  readonly rate: number
  readonly rateSeconds: number
  readonly rateConnections: number
  readonly scalingSeconds: number
  readonly workers: number
  /** Rolling restart (SIGUSR2) of the workers contender during each measured run. */
  readonly roll: boolean
  /** CPU lists per role when --pin is on. */
  readonly pin: { readonly proxy: string; readonly backend: string; readonly generator: string } | undefined
  readonly outDir: string
  /** The CLI (main.js) of a baseline build, run as the `zdd-baseline` contender. */
  readonly baselineCli: string | undefined
  /** Folder for zdd-proxy CPU profiles, when profiling. */
  readonly profileDir: string | undefined
  /** Minutes of the soak, and its fixed rate (req/s). */
  readonly soakMinutes: number
  readonly soakRate: number
  /** Replicas sharing etcd, weight changes through them, and the paced load on each (req/s). */
  readonly replicas: number
  readonly replicaChanges: number
  readonly replicaRate: number
}

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url))

/** The CLI entry inside a copied dist/ folder (or the folder holding it); exits 2 when absent. */
export function baselineCli(folder: string): string {
  for (const candidate of [join(folder, 'src/cli/main.js'), join(folder, 'dist/src/cli/main.js'), folder]) {
    if (candidate.endsWith('.js') && existsSync(candidate)) return candidate
  }
  process.stderr.write(`bench: --baseline: no src/cli/main.js under ${folder}\n`)
  process.exit(2)
}

/** Parses argv; bad usage prints one line and exits 2. */
export async function parseArgs(argv = hideBin(process.argv)): Promise<BenchOptions> {
  const args = await yargs(argv)
    .scriptName('npm run bench --')
    .usage('$0 [options]\n\nWithout a mode flag every mode runs: throughput, fixed rate, scaling, micro.')
    .option('quick', { type: 'boolean', default: false, describe: 'every mode, short (≈1 min): a smoke run, not a measurement' })
    .option('throughput', { type: 'boolean', describe: 'throughput mode (autocannon, closed loop)' })
    .option('rate', { type: 'number', describe: 'fixed-rate latency mode at N req/s (added latency vs direct); default 1000' })
    .option('scaling', { type: 'boolean', describe: 'scaling mode (instances per group, groups)' })
    .option('micro', { type: 'boolean', describe: 'micro-benchmarks of the hot-path functions' })
    .option('soak', { type: 'number', describe: 'soak mode: MINUTES at a fixed rate with instance churn; RSS, descriptors, CLOSE_WAIT per minute' })
    .option('soak-rate', { type: 'number', default: 300, describe: 'req/s of the soak' })
    .option('replicas', { type: 'number', describe: 'replicas mode: N (default 3) replicas sharing one etcd; time from a change\'s 200 to the last replica applying it' })
    .option('changes', { type: 'number', describe: 'weight changes of the replicas mode (default 200; quick 30)' })
    .option('replicas-rate', { type: 'number', default: 100, describe: 'req/s of paced load on each replica in the replicas mode' })
    .option('duration', { alias: 'd', type: 'number', describe: 'seconds per measured run (default 10; quick 1)' })
    .option('connections', { alias: 'c', type: 'number', default: 64, describe: 'autocannon connections' })
    .option('rounds', { alias: 'r', type: 'number', default: 3, describe: 'interleaved rounds (medians over them)' })
    .option('warmup', { type: 'number', describe: 'seconds of load before each measured run (default 1; quick 0.2)' })
    .option('contenders', { type: 'string', describe: `comma list of ${CONTENDER_NAMES.join(', ')} (default: all)` })
    .option('backend', { choices: ['fixed', 'simpleservice'] as const, default: 'fixed' as const, describe: 'backend behind every contender' })
    .option('workers', { type: 'number', default: 2, describe: 'workers for the zdd-proxy --workers contender' })
    .option('roll', { type: 'boolean', default: false, describe: 'SIGUSR2 the zdd-proxy --workers contender a third into each run (rolling restart under load)' })
    .option('pin', { type: 'boolean', default: false, describe: 'pin proxy, backend and load generator to CPUs with taskset' })
    .option('profile', { type: 'string', describe: 'write V8 CPU profiles of the Node contenders to this folder (node --cpu-prof)' })
    .option('baseline', {
      type: 'string',
      describe: 'another build of zdd-proxy (a copied dist/ folder) to run as the zdd-baseline contender, for before/after in one run',
    })
    .option('out', { type: 'string', default: DEFAULT_OUT, describe: 'folder for the results JSON' })
    .strict()
    .fail((message, error) => {
      process.stderr.write(`bench: ${error?.message ?? message}\n`)
      process.exit(2)
    })
    .help()
    .parseAsync()

  const quick = args.quick
  const chosen: Mode[] = []
  if (args.throughput) chosen.push('throughput')
  // A bare --rate parses as undefined, so look at the words themselves.
  if (args.rate !== undefined || argv.some((word) => word === '--rate' || word.startsWith('--rate='))) chosen.push('rate')
  if (args.scaling) chosen.push('scaling')
  if (args.micro) chosen.push('micro')
  if (args.soak !== undefined) chosen.push('soak')
  if (args.replicas !== undefined || argv.some((word) => word === '--replicas' || word.startsWith('--replicas='))) chosen.push('replicas')
  const modes: Mode[] = chosen.length > 0 ? chosen : ['throughput', 'rate', 'scaling', 'micro']
  // zdd-baseline runs only when asked for with --baseline.
  const defaults = CONTENDER_NAMES.filter((name) => name !== 'zdd-baseline' || args.baseline !== undefined)
  const contenders = (args.contenders ?? defaults.join(',')).split(',').map((name) => name.trim())
  for (const name of contenders) {
    if (!(CONTENDER_NAMES as readonly string[]).includes(name)) {
      process.stderr.write(`bench: unknown contender "${name}" (known: ${CONTENDER_NAMES.join(', ')})\n`)
      process.exit(2)
    }
  }
  // Ratios are taken against direct, so it always runs.
  if (!contenders.includes('direct')) contenders.unshift('direct')
  const positive = (value: number | undefined, name: string): number | undefined => {
    if (value !== undefined && !(value > 0)) {
      process.stderr.write(`bench: --${name} must be a number > 0\n`)
      process.exit(2)
    }
    return value
  }
  // autocannon ends runs on its 1 s ticks, so shorter throughput runs last 1 s anyway.
  const seconds = positive(args.duration, 'duration') ?? (quick ? 1 : 10)
  const rate = args.rate === undefined || Number.isNaN(args.rate) ? (quick ? 500 : 1000) : positive(args.rate, 'rate')!
  const cpuCount = cpus().length
  return {
    modes,
    quick,
    seconds,
    connections: Math.round(positive(args.connections, 'connections')!),
    rounds: Math.max(1, Math.round(positive(args.rounds, 'rounds')!)),
    warmupSeconds: args.warmup ?? (quick ? 0 : 1),
    initialWarmupSeconds: quick ? 0.3 : 3,
    contenders: contenders as ContenderName[],
    backend: args.backend as BackendKind,
    rate,
    rateSeconds: args.duration ?? (quick ? 0.5 : 10),
    rateConnections: 16,
    scalingSeconds: args.duration ?? (quick ? 0.5 : 5),
    workers: Math.max(1, Math.round(positive(args.workers, 'workers')!)),
    roll: args.roll,
    pin: args.pin
      ? cpuCount >= 3
        ? { proxy: '0', backend: '1', generator: '2' }
        : { proxy: '0', backend: String(cpuCount - 1), generator: String(cpuCount - 1) }
      : undefined,
    outDir: args.out,
    profileDir: args.profile === undefined ? undefined : resolve(args.profile),
    soakMinutes: Math.max(1, Math.round(positive(args.soak, 'soak') ?? 1)),
    soakRate: positive(args['soak-rate'], 'soak-rate')!,
    replicas: Math.max(2, Math.round(args.replicas === undefined || Number.isNaN(args.replicas) ? 3 : positive(args.replicas, 'replicas')!)),
    replicaChanges: Math.round(positive(args.changes, 'changes') ?? (quick ? 30 : 200)),
    replicaRate: positive(args['replicas-rate'], 'replicas-rate')!,
    baselineCli: args.baseline === undefined ? undefined : baselineCli(resolve(args.baseline)),
  }
}
