/** The summary printed on stdout: one table per mode, then the acceptance checks. */
import type { MicroResult } from './micro.js'
import type { ScalingResult } from './scaling.js'
import { rssGrowthMiB, type ContenderSummary } from './summary.js'
import { added, num, ratio, renderTable } from './table.js'

const find = (summaries: readonly ContenderSummary[], name: string): ContenderSummary | undefined =>
  summaries.find((summary) => summary.name === name)

export function throughputTable(summaries: readonly ContenderSummary[]): string {
  const rows = summaries.map((s) => [
    s.name,
    num(s.rps),
    ratio(s.ratios['direct']),
    ratio(s.ratios['http-proxy']),
    ratio(s.ratios['minimal-undici']),
    num(s.p50Ms, 2),
    num(s.p99Ms, 2),
    num(s.p999Ms, 2),
    String(s.non2xx),
    String(s.errors),
    num(s.peakRssMiB, 0),
    s.endRssMiB.length === 0 ? '-' : s.endRssMiB.map((mib) => mib.toFixed(0)).join('/'),
    num(s.cpuCores === null ? null : s.cpuCores * 100, 0),
    num(s.cpuUsPerRequest, 1),
    ratio(s.cpuEfficiency['http-proxy']),
    ratio(s.cpuEfficiency['minimal-undici']),
    num(s.backendCores * 100, 0),
  ])
  return renderTable(
    ['contender', 'req/s', 'x direct', 'x http-proxy', 'x minimal', 'p50 ms', 'p99 ms', 'p99.9 ms', 'non2xx', 'errors', 'peak RSS MiB', 'RSS/round', 'CPU %', 'CPU us/req', 'eff x http-proxy', 'eff x minimal', 'backend CPU %'],
    rows,
  )
}

export function rateTable(summaries: readonly ContenderSummary[]): string {
  const rows = summaries.map((s) => [
    s.name,
    num(s.rps),
    num(s.p50Ms, 3),
    num(s.p99Ms, 3),
    num(s.p999Ms, 3),
    added(s.addedP50Ms),
    added(s.addedP99Ms),
    String(s.non2xx),
    String(s.errors),
    num(s.cpuCores === null ? null : s.cpuCores * 100, 0),
  ])
  return renderTable(['contender', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'added p50', 'added p99', 'non2xx', 'errors', 'CPU %'], rows)
}

export function scalingTables(result: ScalingResult): string {
  const selection = renderTable(
    ['route selection', 'ns/op', 'x 1 instance'],
    result.selection.map((entry) => [`${entry.groups} groups x ${entry.instances}`, num(entry.nsPerOp, 1), ratio(entry.vsOneInstance)]),
  )
  const reference = result.summaries[0]?.name ?? ''
  // Each row against its own kind's smallest layout: zdd-proxy layouts against the first, the
  // minimal-undici control against itself over the fewest pools.
  const control = result.summaries.find((s) => s.name.startsWith('minimal-undici'))?.name ?? ''
  const own = (s: ContenderSummary): number | null => (s.name.startsWith('minimal-undici') ? s.ratios[control] : s.ratios[reference]) ?? null
  const endToEnd = renderTable(
    ['layout', 'req/s', 'x smallest', 'p50 ms', 'p99 ms', 'non2xx', 'errors', 'peak RSS MiB', 'CPU us/req', 'eff x smallest'],
    result.summaries.map((s) => [
      s.name,
      num(s.rps),
      ratio(own(s)),
      num(s.p50Ms, 2),
      num(s.p99Ms, 2),
      String(s.non2xx),
      String(s.errors),
      num(s.peakRssMiB, 0),
      num(s.cpuUsPerRequest, 1),
      ratio((s.name.startsWith('minimal-undici') ? s.cpuEfficiency[control] : s.cpuEfficiency[reference]) ?? null),
    ]),
  )
  return `${selection}\n\n${endToEnd}`
}

export function microTable(results: readonly MicroResult[]): string {
  return renderTable(['function', 'ns/op'], results.map((entry) => [entry.name, num(entry.nsPerOp, 1)]))
}

/**
 * One line per hot-path target that this run measured (the targets of the issue "One house"). The
 * CPU-per-request ratios are judged with bench/side-by-side.ts, the steadier figure; the interleaved
 * rounds here show them too.
 */
export function acceptanceLines(throughput?: readonly ContenderSummary[], rate?: readonly ContenderSummary[], scaling?: ScalingResult): string[] {
  const lines: string[] = []
  const check = (ok: boolean | null, text: string): void => {
    lines.push(`${ok === null ? '[ ? ]' : ok ? '[ok ]' : '[NO ]'} ${text}`)
  }
  const zdd = throughput && find(throughput, 'zdd-proxy')
  if (zdd !== undefined) {
    const effMinimal = zdd.cpuEfficiency['minimal-undici'] ?? null
    const effHttpProxy = zdd.cpuEfficiency['http-proxy'] ?? null
    check(effMinimal === null ? null : effMinimal >= 0.9, `zdd-proxy CPU efficiency ${ratio(effMinimal)} minimal-undici's, new clients (target >= 0.90x; req/s ${ratio(zdd.ratios['minimal-undici'] ?? null)})`)
    check(effHttpProxy === null ? null : effHttpProxy >= 1.8, `zdd-proxy CPU efficiency ${ratio(effHttpProxy)} http-proxy's (target >= 1.80x; req/s ${ratio(zdd.ratios['http-proxy'] ?? null)})`)
    const vsBaseline = zdd.ratios['zdd-baseline'] ?? null
    if (vsBaseline !== null) {
      lines.push(`[ i ] zdd-proxy vs zdd-baseline, same rounds: req/s ${ratio(vsBaseline)}, CPU efficiency ${ratio(zdd.cpuEfficiency['zdd-baseline'])}`)
    }
    check(zdd.peakRssMiB === null ? null : zdd.peakRssMiB <= 120, `zdd-proxy peak RSS ${num(zdd.peakRssMiB)} MiB (target <= 120 MiB)`)
    const growth = rssGrowthMiB(zdd)
    const first = zdd.endRssMiB.at(-3) ?? 0
    check(growth === null ? null : growth <= Math.max(5, first * 0.05), `zdd-proxy RSS growth over the last 3 rounds ${growth === null ? '-' : growth.toFixed(1)} MiB (no growth: <= max(5 MiB, 5%))`)
  }
  const zddRate = rate && find(rate, 'zdd-proxy')
  const minimalRate = rate && find(rate, 'minimal-undici')
  if (zddRate !== undefined) {
    const ownP99 = zddRate.addedP99Ms
    const minimalP99 = minimalRate?.addedP99Ms ?? null
    const limit = minimalP99 === null ? 1 : Math.min(1, minimalP99 + 0.25)
    const limitText = minimalP99 === null ? '1 ms' : `minimal-undici's ${added(minimalP99)} + 0.25 ms, at most 1 ms`
    check(ownP99 === null ? null : ownP99 <= limit, `zdd-proxy added p99 ${added(ownP99)} ms at a fixed rate (target <= ${limitText}; p50 ${added(zddRate.addedP50Ms)} ms)`)
  }
  if (scaling !== undefined) {
    const reference = scaling.summaries[0]
    const big = scaling.summaries.find((s) => s.name === '2g x 1000')
    const kept = reference !== undefined && big !== undefined ? (big.ratios[reference.name] ?? null) : null
    if (reference !== undefined && big !== undefined) {
      lines.push(`[ i ] 2 groups x 1000 instances: ${ratio(kept)} req/s of 2 x 1 (CPU efficiency ${ratio(big.cpuEfficiency[reference.name] ?? null)})`)
    }
    const controls = scaling.summaries.filter((s) => s.name.startsWith('minimal-undici'))
    if (controls.length === 2) {
      const [few, many] = controls as [ContenderSummary, ContenderSummary]
      const control = many.ratios[few.name] ?? null
      lines.push(`[ i ] control, same rounds: ${many.name} ${ratio(control)} req/s of ${few.name} (CPU efficiency ${ratio(many.cpuEfficiency[few.name] ?? null)})`)
      const share = kept !== null && control !== null && control > 0 ? kept / control : null
      check(share === null ? null : share >= 0.9, `2 groups x 1000 instances keep ${ratio(share)} of what the control keeps over as many upstreams (target >= 0.90x)`)
    }
  }
  return lines
}
