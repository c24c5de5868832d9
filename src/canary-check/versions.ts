import type { Comparison, StoredClient } from './types.js'

const collator = new Intl.Collator('en', { numeric: true })

/** Version order: numeric parts compare as numbers, so 0.9 < 1.0 < 1.10; ties broken by code units. */
export function compareVersions(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0)
}

/** Client counts per version, keys in version order. */
export function countByVersion(versions: readonly (string | null)[]): Record<string, number> {
  const counts = new Map<string, number>()
  for (const version of versions) {
    if (version !== null) counts.set(version, (counts.get(version) ?? 0) + 1)
  }
  // fromEntries defines own keys, so a version named "__proto__" is counted like any other.
  return Object.fromEntries([...counts].sort(([a], [b]) => compareVersions(a, b)))
}

/**
 * Client-by-client movement from `before` to `after`, matched by id. Clients without a version in
 * either run, or present in only one, are not compared.
 */
export function compareRuns(
  source: string,
  before: readonly StoredClient[],
  after: readonly StoredClient[],
): Comparison {
  const previous = new Map<string, string | null>()
  for (const client of before) previous.set(client.id, client.version)
  const versions = new Set<string>()
  const moves = new Map<string, { from: string; to: string; count: number }>()
  let compared = 0
  for (const client of after) {
    const from = previous.get(client.id)
    if (from === undefined || from === null || client.version === null) continue
    compared++
    versions.add(from)
    versions.add(client.version)
    if (from === client.version) continue
    const key = `${from}->${client.version}`
    const move = moves.get(key)
    if (move) move.count++
    else moves.set(key, { from, to: client.version, count: 1 })
  }
  const sorted = [...moves].sort(([, a], [, b]) => compareVersions(a.from, b.from) || compareVersions(a.to, b.to))
  const moved = Object.fromEntries(sorted.map(([key, move]) => [key, move.count]))
  return { source, compared, versions: [...versions].sort(compareVersions), moved }
}
