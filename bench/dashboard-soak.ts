/**
 * The dashboard left open on the demo under load: samples the tab's JavaScript heap (after a
 * forced garbage collection, so it shows what the page keeps), its DOM nodes and listeners, and
 * moves the canary along the way (90/10, 75/25, 50/50) so the charts have something to follow.
 * The heap grows while the 10-minute series fills; the slope is taken once it is full.
 *
 *   node dist/bench/dashboard-soak.js [--minutes 16] [--rate 200] [--sample-seconds 30] [--screenshot FILE]
 */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { request } from 'undici'
import { CLI, launchFlags } from './backends.js'
import { launchChromium } from './chromium.js'
import { installCleanup, spawnChild, stopAllChildren } from './children.js'
import { runPaced } from './paced.js'

const TOKEN = 'soak'
/** The series window (10 min) plus a sample's worth: from then on the page holds a full window. */
const FILLED_MINUTES = 10.5
const STEPS: readonly Readonly<Record<string, number>>[] = [
  { '0.9': 90, '1.0': 10 },
  { '0.9': 75, '1.0': 25 },
  { '0.9': 50, '1.0': 50 },
]

interface Sample {
  readonly minute: number
  readonly heapMiB: number
  readonly nodes: number
  readonly listeners: number
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

async function main(): Promise<void> {
  installCleanup()
  const args = await yargs(hideBin(process.argv))
    .scriptName('dashboard-soak')
    .option('minutes', { type: 'number', default: 16 })
    .option('rate', { type: 'number', default: 200, describe: 'requests per second to the proxy (new clients)' })
    .option('sample-seconds', { type: 'number', default: 30 })
    .option('screenshot', { type: 'string', describe: 'PNG of the page at the end (1280x800)' })
    .strict()
    .parseAsync()
  const { child, match } = await spawnChild('demo', process.execPath, [...launchFlags(CLI), CLI, 'demo', '--port', '0', '--admin-port', '0', '--admin-token', TOKEN], {
    ready: /proxy listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*dashboard on (http:\/\/127\.0\.0\.1:\d+)\//,
    timeoutMs: 30_000,
  })
  const [proxyUrl, adminUrl] = [match![1]!, match![2]!]
  const browser = await launchChromium()
  const samples: Sample[] = []
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage())
    await page.goto(`${adminUrl}/`)
    const cdp = await browser.context.newCDPSession(page)
    await cdp.send('Performance.enable')
    const started = Date.now()
    const sample = async () => {
      await cdp.send('HeapProfiler.collectGarbage')
      const { metrics } = await cdp.send('Performance.getMetrics')
      const metric = (name: string) => metrics.find((entry) => entry.name === name)?.value ?? Number.NaN
      const taken = { minute: (Date.now() - started) / 60_000, heapMiB: metric('JSHeapUsedSize') / 2 ** 20, nodes: metric('Nodes'), listeners: metric('JSEventListeners') }
      samples.push(taken)
      process.stdout.write(`${taken.minute.toFixed(1)} min: heap ${taken.heapMiB.toFixed(2)} MiB after GC, ${taken.nodes} DOM nodes, ${taken.listeners} listeners\n`)
    }
    await sample()
    const sampler = setInterval(() => void sample(), args['sample-seconds'] * 1000)
    const phaseSeconds = (args.minutes * 60) / STEPS.length
    try {
      for (const weights of STEPS) {
        const answer = await request(`${adminUrl}/v1/services/simpleservice/weights`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ weights, reason: 'dashboard soak' }),
        })
        await answer.body.dump()
        if (answer.statusCode !== 200) throw new Error(`setting weights answered ${answer.statusCode}`)
        const load = await runPaced({ url: `${proxyUrl}/endpoint0`, rate: args.rate, seconds: phaseSeconds, connections: 32 })
        process.stdout.write(`weights ${JSON.stringify(weights)}: ${load.requests} requests, ${load.non2xx} non-2xx, ${load.errors} errors\n`)
      }
    } finally {
      clearInterval(sampler)
    }
    await sample()
    if (args.screenshot !== undefined) await page.screenshot({ path: args.screenshot })
  } finally {
    await browser.close()
    await child.stop()
    await stopAllChildren()
  }
  // The series fills its 10-minute window first, and the page holds what it shows: flat means flat after that.
  const settled = samples.filter((entry) => entry.minute >= FILLED_MINUTES)
  const last = samples.at(-1)!
  if (settled.length < 2) {
    process.stdout.write(`tab heap after GC: ${last.heapMiB.toFixed(2)} MiB at ${last.minute.toFixed(1)} min (run past ${FILLED_MINUTES} min for a slope once the series window is full)\n`)
    return
  }
  const first = settled[0]!
  const fit = slope(settled.map((entry) => [entry.minute, entry.heapMiB]))
  process.stdout.write(
    `tab heap after GC, once the series window is full: ${first.heapMiB.toFixed(2)} MiB at ${first.minute.toFixed(1)} min, ${last.heapMiB.toFixed(2)} MiB at ${last.minute.toFixed(1)} min; ` +
      `slope ${(fit * 1024).toFixed(1)} KiB/min; DOM nodes ${first.nodes} -> ${last.nodes}, listeners ${first.listeners} -> ${last.listeners}\n`,
  )
}

main().catch(async (error: unknown) => {
  process.stderr.write(`dashboard-soak: ${error instanceof Error ? error.message : String(error)}\n`)
  await stopAllChildren(2_000)
  process.exit(1)
})
