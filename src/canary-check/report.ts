import type { CanaryReport, Comparison } from './types.js'
import { compareVersions } from './versions.js'

/** How many failure reasons the text report names. */
const REASONS_SHOWN = 3

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`
}

/** "a", "a and b", "a, b and c". */
function joinAnd(parts: readonly string[]): string {
  if (parts.length <= 1) return parts.join('')
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`
}

/**
 * The lab's first line: `Out of 10 clients of simpleservice 8 saw version 0.9 and 2 saw version 1.0`.
 * Clients whose every request failed are in no count.
 */
export function firstLine(report: CanaryReport): string {
  // Sorted again because objects list integer-like keys ("1") before all others ("0.9").
  const parts = Object.entries(report.versions)
    .sort(([a], [b]) => compareVersions(a, b))
    .map(([version, count]) => `${count} saw version ${version}`)
  const seen = parts.length > 0 ? joinAnd(parts) : 'none saw a version'
  return `Out of ${report.clients} clients of ${report.service} ${seen}`
}

function comparisonLine(comparison: Comparison): string {
  const { versions, moved } = comparison
  const moves: { count: number; from: string; to: string }[] = []
  for (const from of versions) {
    for (const to of versions) {
      if (from === to) continue
      const count = moved[`${from}->${to}`] ?? 0
      // With two versions both directions show, zeros included: "0 moved 1.0 → 0.9" is the reassuring half.
      if (count > 0 || versions.length === 2) moves.push({ count, from, to })
    }
  }
  if (moves.length === 0) return `Compared with ${comparison.source}: 0 clients moved`
  // Only the first entry names the noun: "12 clients moved 0.9 → 1.0, 0 moved 1.0 → 0.9".
  const text = moves.map(({ count, from, to }, i) =>
    `${i === 0 ? plural(count, 'client', 'clients') : count} moved ${from} → ${to}`,
  )
  return `Compared with ${comparison.source}: ${text.join(', ')}`
}

/** The text report: the lab's first line, then stickiness, errors and movement when they apply. */
export function formatReport(report: CanaryReport): string {
  const lines = [firstLine(report)]
  if (report.requestsPerClient > 1) {
    lines.push(`Sticky violations: ${plural(report.stickyViolations, 'client', 'clients')} saw more than one version`)
  }
  if (report.requestsPerClient > 1 || report.errors > 0) {
    let line = `Errors: ${report.errors} of ${report.requests} requests failed`
    if (report.errors > 0) {
      const shown = report.errorReasons.slice(0, REASONS_SHOWN).map((r) => `${r.reason}: ${r.count}`)
      if (report.errorReasons.length > REASONS_SHOWN) shown.push('…')
      line += ` (${shown.join(', ')})`
    }
    lines.push(line)
  }
  if (report.unanswered > 0) {
    lines.push(`No answer: ${plural(report.unanswered, 'client', 'clients')} got no version (every request failed)`)
  }
  if (report.comparison) lines.push(comparisonLine(report.comparison))
  return `${lines.join('\n')}\n`
}

/** The `--json` object; the first four keys are the documented contract, the rest come after them. */
export function reportJson(report: CanaryReport): Record<string, unknown> {
  const json: Record<string, unknown> = {
    clients: report.clients,
    versions: report.versions,
    stickyViolations: report.stickyViolations,
    errors: report.errors,
    requests: report.requests,
    unanswered: report.unanswered,
  }
  if (report.errors > 0) {
    json.errorReasons = Object.fromEntries(report.errorReasons.map((r) => [r.reason, r.count]))
  }
  if (report.comparison) json.moved = report.comparison.moved
  return json
}

/** Exit status: 0 when every request succeeded and no client saw two versions, else 1. */
export function reportExitCode(report: CanaryReport): 0 | 1 {
  return report.errors === 0 && report.stickyViolations === 0 ? 0 : 1
}
