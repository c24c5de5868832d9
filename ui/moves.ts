/**
 * How many clients a weight change moves, predicted from the weights alone; pure.
 *
 * The proxy picks a client's group by weighted rendezvous: each (client, group) pair has an
 * independent uniform u, and the highest weight / -ln(u) wins. With E = -ln(u) ~ Exp(1), group g
 * keeps a client under both the old weights w and the new weights v exactly when, for every other
 * group h, E_h > E_g * max(w_h / w_g, v_h / v_g). Integrating over E_g gives
 *
 *   P(g keeps it) = 1 / (1 + sum over h != g of max(w_h / w_g, v_h / v_g))
 *
 * and the share that moves is 1 minus the sum of those over g. For two groups it is the change of
 * share; with more groups changed at once it can be more.
 */

/** Weights of the groups that can take traffic (those with live instances), by group name. */
export type Candidates = Readonly<Record<string, number>>

/** Share (0..1) of sticky clients whose group changes from `before` to `after`. */
export function movedShare(before: Candidates, after: Candidates): number {
  const names = new Set([...Object.keys(before), ...Object.keys(after)])
  const weight = (of: Candidates, name: string) => (Object.hasOwn(of, name) && of[name]! > 0 ? of[name]! : 0)
  if (![...names].some((name) => weight(before, name) > 0) || ![...names].some((name) => weight(after, name) > 0)) return 0
  let kept = 0
  for (const g of names) {
    const w = weight(before, g)
    const v = weight(after, g)
    if (w === 0 || v === 0) continue
    let others = 0
    for (const h of names) if (h !== g) others += Math.max(weight(before, h) / w, weight(after, h) / v)
    kept += 1 / (1 + others)
  }
  return Math.min(1, Math.max(0, 1 - kept))
}

/** Shares (0..1) that `weights` give among `candidates` (the groups that can take traffic). */
export function sharesOf(weights: Candidates, candidates: readonly string[]): Record<string, number> {
  let total = 0
  for (const name of candidates) total += Math.max(0, weights[name] ?? 0)
  const shares: Record<string, number> = {}
  for (const name of candidates) shares[name] = total > 0 ? Math.max(0, weights[name] ?? 0) / total : 0
  return shares
}
