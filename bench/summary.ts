/**
 * Turns interleaved samples into per-contender figures: medians over rounds, and ratios taken
 * round by round (a contender against a reference measured in the same round) before the median,
 * so a round that was slow for everyone does not skew the ratio.
 */
import type { LoadResult } from './load.js'
import type { ProcUsage } from './procstat.js'

/** One measured run of one contender in one round. */
export interface Sample {
  readonly contender: string
  readonly round: number
  readonly load: LoadResult
  /** The proxy's process tree (absent for direct). */
  readonly proxy?: ProcUsage
  /** Backend CPU during the run, in cores. */
  readonly backendCores: number
  /** Load generator (this process) CPU during the run, in cores. */
  readonly generatorCores: number
}

export interface ContenderSummary {
  readonly name: string
  readonly rounds: number
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly non2xx: number
  readonly errors: number
  /** Median of per-round req/s ratios against each reference (null when the reference is absent). */
  readonly ratios: Readonly<Record<string, number | null>>
  /**
   * Median of per-round CPU-efficiency ratios: the reference's proxy CPU per request over this
   * contender's. A CPU-bound proxy's req/s ratio on an idle machine; steadier on a shared one.
   */
  readonly cpuEfficiency: Readonly<Record<string, number | null>>
  /** Median of per-round latency differences against direct, in ms (null for direct itself). */
  readonly addedP50Ms: number | null
  readonly addedP99Ms: number | null
  readonly peakRssMiB: number | null
  /** RSS at the end of each round, in order (the leak check reads its growth). */
  readonly endRssMiB: readonly number[]
  readonly cpuCores: number | null
  /** Proxy CPU time per completed request, in µs. */
  readonly cpuUsPerRequest: number | null
  readonly backendCores: number
  readonly generatorCores: number
}

export function median(values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const middle = finite.length >> 1
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2
}

/** Proxy CPU time per completed request in µs (NaN without proxy figures). */
function cpuPerRequest(sample: Sample): number {
  return sample.proxy === undefined ? Number.NaN : (sample.proxy.cpuSeconds * 1e6) / Math.max(1, sample.load.requests)
}

/** Median over rounds of f(sample of `name`, sample of `reference`) for rounds where both ran. */
function perRound(samples: readonly Sample[], name: string, reference: string, f: (own: Sample, ref: Sample) => number): number | null {
  const values: number[] = []
  for (const own of samples) {
    if (own.contender !== name) continue
    const ref = samples.find((sample) => sample.contender === reference && sample.round === own.round)
    if (ref !== undefined) values.push(f(own, ref))
  }
  return values.length === 0 ? null : median(values)
}

/** Summaries in first-seen order; `references` name the contenders ratios are taken against. */
export function summarise(samples: readonly Sample[], references: readonly string[]): ContenderSummary[] {
  const names = [...new Set(samples.map((sample) => sample.contender))]
  return names.map((name) => {
    const own = samples.filter((sample) => sample.contender === name).sort((a, b) => a.round - b.round)
    const proxies = own.flatMap((sample) => (sample.proxy === undefined ? [] : [sample.proxy]))
    const ratios: Record<string, number | null> = {}
    for (const reference of references) ratios[reference] = perRound(samples, name, reference, (a, b) => a.load.rps / b.load.rps)
    const cpuEfficiency: Record<string, number | null> = {}
    for (const reference of references) {
      cpuEfficiency[reference] =
        reference === 'direct' || name === 'direct' ? null : perRound(samples, name, reference, (a, b) => cpuPerRequest(b) / cpuPerRequest(a))
    }
    const isDirect = name === 'direct'
    return {
      name,
      rounds: own.length,
      rps: median(own.map((sample) => sample.load.rps)),
      p50Ms: median(own.map((sample) => sample.load.latencyMs.p50)),
      p99Ms: median(own.map((sample) => sample.load.latencyMs.p99)),
      p999Ms: median(own.map((sample) => sample.load.latencyMs.p999)),
      non2xx: own.reduce((total, sample) => total + sample.load.non2xx, 0),
      errors: own.reduce((total, sample) => total + sample.load.errors, 0),
      ratios,
      cpuEfficiency,
      addedP50Ms: isDirect ? null : perRound(samples, name, 'direct', (a, b) => a.load.latencyMs.p50 - b.load.latencyMs.p50),
      addedP99Ms: isDirect ? null : perRound(samples, name, 'direct', (a, b) => a.load.latencyMs.p99 - b.load.latencyMs.p99),
      peakRssMiB: proxies.length === 0 ? null : Math.max(...proxies.map((usage) => usage.peakRssMiB)),
      endRssMiB: proxies.map((usage) => usage.endRssMiB),
      cpuCores: proxies.length === 0 ? null : median(proxies.map((usage) => usage.cpuCores)),
      cpuUsPerRequest: proxies.length === 0 ? null : median(own.filter((s) => s.proxy !== undefined).map(cpuPerRequest)),
      backendCores: median(own.map((sample) => sample.backendCores)),
      generatorCores: median(own.map((sample) => sample.generatorCores)),
    }
  })
}

/** RSS growth from the first to the last of the last three rounds (MiB), or null with fewer than 3. */
export function rssGrowthMiB(summary: ContenderSummary): number | null {
  const series = summary.endRssMiB
  if (series.length < 3) return null
  const last3 = series.slice(-3)
  return last3[2]! - last3[0]!
}
