/**
 * Scaling mode: does the per-request cost grow with instances or groups? Route selection is timed
 * as a micro-benchmark for every combination; end to end, one zdd-proxy per layout forwards to one
 * fixed backend listening on as many loopback ports as there are instances (each port a distinct
 * instance to the proxy), measured in interleaved rounds against the 2 groups × 1 instance layout.
 */
import { backendAddress, type Backend } from './backends.js'
import { startMinimalUndici, startZdd, type Contender, type ContenderContext } from './contenders.js'
import { runSelectionScaling, type MicroOptions } from './micro.js'
import { runRounds, type RoundsOptions } from './rounds.js'
import { summarise, type ContenderSummary, type Sample } from './summary.js'

export interface Layout {
  readonly groups: number
  readonly instances: number
}

export const SELECTION_GROUPS = [2, 3, 10] as const
export const SELECTION_INSTANCES = [1, 10, 100, 1000] as const

/** End-to-end layouts: instances grow at 2 groups, then groups grow. The first is the reference. */
export const FULL_LAYOUTS: readonly Layout[] = [
  { groups: 2, instances: 1 },
  { groups: 2, instances: 10 },
  { groups: 2, instances: 100 },
  { groups: 2, instances: 1000 },
  { groups: 3, instances: 1 },
  { groups: 10, instances: 1 },
  { groups: 10, instances: 100 },
]
export const QUICK_LAYOUTS: readonly Layout[] = [
  { groups: 2, instances: 1 },
  { groups: 2, instances: 1000 },
]

export const layoutName = (layout: Layout): string => `${layout.groups}g x ${layout.instances}`

/**
 * The control: minimal-undici spreading requests at random over as many pools as the first and
 * the largest layout have instances in all, in the same rounds. Its ratio says what many upstreams cost
 * undici and the kernel, with none of zdd-proxy's code involved.
 */
export const minimalName = (instances: number): string => `minimal-undici x ${instances}`

/** Ports the backend needs to give every instance of every layout its own address. */
export function portsNeeded(layouts: readonly Layout[]): number {
  return Math.max(...layouts.map((layout) => layout.groups * layout.instances))
}

export interface ScalingResult {
  readonly selection: { groups: number; instances: number; nsPerOp: number; vsOneInstance: number }[]
  readonly layouts: readonly Layout[]
  readonly samples: Sample[]
  readonly summaries: ContenderSummary[]
}

/** Runs the selection micro-benchmark and the end-to-end rounds; stops its proxies before returning. */
export async function runScaling(
  backend: Backend,
  ctx: ContenderContext,
  layouts: readonly Layout[],
  rounds: Omit<RoundsOptions, 'progress'> & { progress: (message: string) => void },
  micro: MicroOptions,
): Promise<ScalingResult> {
  rounds.progress('route selection micro-benchmark')
  const raw = runSelectionScaling(SELECTION_GROUPS, SELECTION_INSTANCES, micro)
  const selection = raw.map((entry) => {
    const base = raw.find((other) => other.groups === entry.groups && other.instances === 1)!
    return { ...entry, vsOneInstance: entry.nsPerOp / base.nsPerOp }
  })
  const proxies: Contender[] = []
  try {
    for (const layout of layouts) {
      rounds.progress(`starting zdd-proxy ${layoutName(layout)}`)
      const groups = Array.from({ length: layout.groups }, (_, g) => ({
        name: `g${g}`,
        instances: Array.from({ length: layout.instances }, (_, k) => backendAddress(backend, g * layout.instances + k)),
      }))
      proxies.push(await startZdd(layoutName(layout), groups, ctx))
    }
    const spreads = [...new Set([layouts[0]!.groups * layouts[0]!.instances, portsNeeded(layouts)])]
    for (const count of spreads) {
      rounds.progress(`starting ${minimalName(count)}`)
      const origins = Array.from({ length: count }, (_, k) => `http://${backendAddress(backend, k)}`)
      proxies.push(await startMinimalUndici(minimalName(count), origins, ctx))
    }
    const samples = await runRounds(proxies, backend, rounds)
    return { selection, layouts, samples, summaries: summarise(samples, [layoutName(layouts[0]!), minimalName(spreads[0]!)]) }
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()))
  }
}
