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

/** One line per acceptance target of issue 6 that this run measured. */
export function acceptanceLines(throughput?: readonly ContenderSummary[], rate?: readonly ContenderSummary[], scaling?: ScalingResult): string[] {
  const lines: string[] = []
  const check = (ok: boolean | null, text: string): void => {
    lines.push(`${ok === null ? '[ ? ]' : ok ? '[ok ]' : '[NO ]'} ${text}`)
  }
  const zdd = throughput && find(throughput, 'zdd-proxy')
  if (zdd !== undefined) {
    const vsMinimal = zdd.ratios['minimal-undici'] ?? null
    const vsHttpProxy = zdd.ratios['http-proxy'] ?? null
    const effMinimal = ratio(zdd.cpuEfficiency['minimal-undici'])
    const effHttpProxy = ratio(zdd.cpuEfficiency['http-proxy'])
    check(vsMinimal === null ? null : vsMinimal >= 0.9, `zdd-proxy req/s ${ratio(vsMinimal)} minimal-undici (target >= 0.90x; CPU efficiency ${effMinimal})`)
    check(vsHttpProxy === null ? null : vsHttpProxy >= 1.8, `zdd-proxy req/s ${ratio(vsHttpProxy)} http-proxy (target >= 1.80x, stretch 2.0x; CPU efficiency ${effHttpProxy})`)
    const vsHaproxy = zdd.ratios['haproxy'] ?? null
    if (vsHaproxy !== null) check(vsHaproxy >= 0.6, `zdd-proxy req/s ${ratio(vsHaproxy)} haproxy, 1 thread (stretch >= 0.60x)`)
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
  if (zddRate !== undefined && rate !== undefined) {
    const haproxy = find(rate, 'haproxy')
    const limit = haproxy?.addedP99Ms ?? 1
    const limitText = haproxy === undefined ? '1 ms' : `haproxy's ${added(haproxy.addedP99Ms)} ms`
    check(zddRate.addedP99Ms === null ? null : zddRate.addedP99Ms <= limit, `zdd-proxy added p99 ${added(zddRate.addedP99Ms)} ms at a fixed rate (target <= ${limitText}; p50 ${added(zddRate.addedP50Ms)} ms)`)
    // The Node yardstick's tail, for judging zdd-proxy's against what any undici proxy adds here.
    const minimal = find(rate, 'minimal-undici')
    if (minimal !== undefined) lines.push(`[ i ] minimal-undici, same rounds: added p99 ${added(minimal.addedP99Ms)} ms, p50 ${added(minimal.addedP50Ms)} ms`)
  }
  if (scaling !== undefined) {
    const reference = scaling.summaries[0]
    const big = scaling.summaries.find((s) => s.name === '2g x 1000')
    const kept = reference !== undefined && big !== undefined ? (big.ratios[reference.name] ?? null) : null
    if (reference !== undefined && big !== undefined) {
      check(kept === null ? null : kept >= 0.9, `2 groups x 1000 instances: ${ratio(kept)} req/s of 2 x 1 (target >= 0.90x; CPU efficiency ${ratio(big.cpuEfficiency[reference.name] ?? null)})`)
    }
    const controls = scaling.summaries.filter((s) => s.name.startsWith('minimal-undici'))
    if (controls.length === 2) {
      const [few, many] = controls as [ContenderSummary, ContenderSummary]
      const control = many.ratios[few.name] ?? null
      lines.push(`[ i ] control, same rounds: ${many.name} ${ratio(control)} req/s of ${few.name} (CPU efficiency ${ratio(many.cpuEfficiency[few.name] ?? null)})`)
      if (kept !== null && control !== null && control > 0) {
        lines.push(`[ i ] 2 groups x 1000 instances keep ${ratio(kept / control)} of what the control keeps over as many upstreams`)
      }
    }
  }
  return lines
}
