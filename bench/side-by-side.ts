/**
 * Side-by-side A/B: two proxies under identical load at the same time, both pinned to the same CPU,
 * so a neighbour's burst slows both alike. Reports each one's CPU time per request and the B/A
 * ratio per run, then the median: ±2-3 % resolution on a shared 2-core VM, where interleaved rounds
 * need far longer to see a few percent.
 *
 *   node dist/bench/side-by-side.js [--runs 9] [--duration 4] [--pin 0] A B
 *   A, B: zdd | zdd:DIST (another build's dist/ folder) | minimal-undici | http-proxy
 *   --service-a / --service-b JSON   fields merged into that zdd's service (e.g. '{"sticky":{"by":"none"}}')
 *   --config-a / --config-b JSON     fields merged into that zdd's config (e.g. '{"accessLog":{"path":"/tmp/b.log"}}')
 *   --node-a / --node-b FLAGS        node flags for that zdd (e.g. '--max-semi-space-size=8')
 *   --profile DIR                    both sides run under `node --cpu-prof`, profiles written to DIR
 *                                    (compare them per request: dist/bench/cpuprofile.js)
 *   --returning                      every request carries a sticky cookie (a returning client);
 *                                    without it none does (every request is a new client)
 *   --dashboard-b                    B (a zdd) has one dashboard attached during the runs: the event
 *                                    stream open, /v1/services and the series polled every 2 s
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { baselineCli } from './args.js'
import { startBackend } from './backends.js'
import { installCleanup, stopAllChildren } from './children.js'
import { scratchDir, standardGroups, startContender, startZdd, type Contender, type ContenderContext } from './contenders.js'
import { attachDashboard, type DashboardClient } from './dashboard-client.js'
import { runAutocannon } from './load.js'
import { ProcSampler } from './procstat.js'
import { median } from './summary.js'

interface Side {
  readonly spec: string
  readonly service: string | undefined
  readonly config: string | undefined
  readonly node: string | undefined
  /** Wait for its admin listener (a dashboard will attach). */
  readonly admin?: boolean
}

async function startSide(label: string, side: Side, ctx: ContenderContext): Promise<Contender> {
  if (side.spec === 'minimal-undici' || side.spec === 'http-proxy') {
    const started = await startContender(side.spec, ctx)
    if ('skipped' in started) throw new Error(`${label}: ${started.skipped}`)
    return started
  }
  const match = /^zdd(?::(.+))?$/.exec(side.spec)
  if (match === null) throw new Error(`${label}: unknown spec "${side.spec}" (zdd, zdd:DIST, minimal-undici, http-proxy)`)
  return startZdd(`${label} ${side.spec}`, standardGroups(ctx.backend), ctx, {
    ...(match[1] === undefined ? {} : { cli: baselineCli(match[1]) }),
    ...(side.service === undefined ? {} : { service: JSON.parse(side.service) as Record<string, unknown> }),
    ...(side.config === undefined ? {} : { top: JSON.parse(side.config) as Record<string, unknown> }),
    ...(side.node === undefined ? {} : { nodeFlags: side.node.split(' ').filter((flag) => flag !== '') }),
    ...(side.admin === true ? { admin: true } : {}),
  })
}

async function main(): Promise<void> {
  installCleanup()
  const args = await yargs(hideBin(process.argv))
    .scriptName('side-by-side')
    .usage('$0 [options] A B')
    .option('runs', { type: 'number', default: 9 })
    .option('duration', { alias: 'd', type: 'number', default: 4 })
    .option('connections', { alias: 'c', type: 'number', default: 64 })
    .option('pin', { type: 'string', default: '0', describe: 'CPU list both proxies share (empty: no pinning)' })
    .option('service-a', { type: 'string' })
    .option('service-b', { type: 'string' })
    .option('config-a', { type: 'string' })
    .option('config-b', { type: 'string' })
    .option('node-a', { type: 'string' })
    .option('node-b', { type: 'string' })
    .option('profile', { type: 'string', describe: 'folder for both sides\' CPU profiles' })
    .option('returning', { type: 'boolean', default: false, describe: 'send a sticky cookie with every request (returning clients)' })
    .option('dashboard-b', { type: 'boolean', default: false, describe: 'keep one dashboard client attached to B (a zdd) during the runs' })
    .demandCommand(2, 2)
    .strict()
    .parseAsync()
  const [specA, specB] = args._.map(String) as [string, string]
  const scratch = scratchDir()
  const lines: string[] = []
  const ratios: number[] = []
  let dashboard: DashboardClient | undefined
  try {
    const backend = await startBackend('fixed', 2)
    const ctx: ContenderContext = {
      backend,
      scratch,
      workers: 1,
      ...(args.pin === '' ? {} : { cpus: args.pin }),
      ...(args.profile === undefined ? {} : { profileDir: args.profile }),
    }
    const a = await startSide('A', { spec: specA, service: args['service-a'], config: args['config-a'], node: args['node-a'] }, ctx)
    const b = await startSide('B', { spec: specB, service: args['service-b'], config: args['config-b'], node: args['node-b'], admin: args['dashboard-b'] }, ctx)
    if (args['dashboard-b']) {
      if (b.adminUrl === undefined) throw new Error('--dashboard-b: B must be a zdd-proxy (zdd or zdd:DIST)')
      dashboard = await attachDashboard(b.adminUrl)
    }
    // The bench config's sticky cookie, as a browser that was here before sends it back.
    const headers: Record<string, string> = args.returning ? { cookie: 'zdd_client=Rt0bench_1' } : {}
    const load = (contender: Contender, seconds: number) => runAutocannon({ url: contender.url, connections: args.connections, seconds, headers })
    await Promise.all([load(a, 2), load(b, 2)])
    for (let run = 1; run <= args.runs; run++) {
      const samplers = [a, b].map((side) => new ProcSampler(() => side.pids()))
      for (const sampler of samplers) sampler.start()
      const [resultA, resultB] = await Promise.all([load(a, args.duration), load(b, args.duration)])
      const [usageA, usageB] = samplers.map((sampler) => sampler.stop()) as [ReturnType<ProcSampler['stop']>, ReturnType<ProcSampler['stop']>]
      const cpuA = (usageA.cpuSeconds * 1e6) / Math.max(1, resultA.requests)
      const cpuB = (usageB.cpuSeconds * 1e6) / Math.max(1, resultB.requests)
      ratios.push(cpuB / cpuA)
      const line = `run ${run}: A ${Math.round(resultA.rps)} req/s ${cpuA.toFixed(1)} us/req | B ${Math.round(resultB.rps)} req/s ${cpuB.toFixed(1)} us/req | B/A CPU per request ${(cpuB / cpuA).toFixed(3)}`
      lines.push(line)
      process.stdout.write(`${line}\n`)
    }
    if (dashboard !== undefined) lines.push(`dashboard on B: ${dashboard.polls()} polling rounds, event stream open throughout`)
  } finally {
    await dashboard?.stop()
    await stopAllChildren()
    rmSync(scratch, { recursive: true, force: true })
  }
  const clients = args.returning ? 'returning clients (sticky cookie sent)' : 'new clients (no cookie)'
  const summary = `${clients}; A = ${specA}${args['service-a'] ? ` ${args['service-a']}` : ''}${args['config-a'] ? ` ${args['config-a']}` : ''}${args['node-a'] ? ` (${args['node-a']})` : ''}; B = ${specB}${args['service-b'] ? ` ${args['service-b']}` : ''}${args['config-b'] ? ` ${args['config-b']}` : ''}${args['node-b'] ? ` (${args['node-b']})` : ''}${args['dashboard-b'] ? ' with a dashboard attached' : ''}\nmedian B/A CPU per request over ${ratios.length} runs: ${median(ratios).toFixed(3)} (B's efficiency ${(1 / median(ratios)).toFixed(3)}x A's)`
  process.stdout.write(`${summary}\n`)
  const out = fileURLToPath(new URL('../../bench/results', import.meta.url))
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, `side-by-side-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), `${JSON.stringify({ specA, specB, args, lines, ratios, median: median(ratios) }, null, 2)}\n`)
}

main().catch(async (error: unknown) => {
  process.stderr.write(`side-by-side: ${error instanceof Error ? error.message : String(error)}\n`)
  await stopAllChildren(2_000)
  process.exit(1)
})
