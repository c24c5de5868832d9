/** Weight validation; pure. The shares weights give are worked out with the snapshot (table.ts). */

export type WeightsResult =
  | { readonly ok: true; readonly weights: Readonly<Record<string, number>> }
  | { readonly ok: false; readonly field: string; readonly message: string }

/**
 * Checks a weights object against the group names of a service: only known groups, finite
 * non-negative numbers, at least one above 0. Groups left out get 0. `field` names the offending
 * key relative to the weights object.
 */
export function validateWeights(input: unknown, groupNames: readonly string[]): WeightsResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, field: '', message: 'must be an object of group name to weight' }
  }
  // No prototype: group names such as __proto__ or constructor are plain keys.
  const weights: Record<string, number> = Object.create(null) as Record<string, number>
  for (const name of groupNames) weights[name] = 0
  let total = 0
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (!groupNames.includes(name)) {
      return { ok: false, field: name, message: `unknown group (groups: ${groupNames.join(', ')})` }
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return { ok: false, field: name, message: 'must be a finite number' }
    }
    if (value < 0) return { ok: false, field: name, message: 'must be >= 0' }
    weights[name] = value
    total += value
  }
  if (!(total > 0)) return { ok: false, field: '', message: 'at least one weight must be > 0' }
  if (!Number.isFinite(total)) return { ok: false, field: '', message: 'weights are too large (their sum overflows)' }
  return { ok: true, weights: Object.freeze(weights) }
}

/** The same groups with the same weights (a group absent from one is not the same as weight 0). */
export function identicalWeights(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
}

/** The same traffic: every group's weight equal, a group absent from one counting as weight 0. */
export function equivalentWeights(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if ((Object.hasOwn(a, name) ? a[name] : 0) !== (Object.hasOwn(b, name) ? b[name] : 0)) return false
  }
  return true
}
