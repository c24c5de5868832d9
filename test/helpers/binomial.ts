/** Exact binomial acceptance bands for traffic-split checks. */

/** [lo, hi] with P(X < lo) <= delta/2 and P(X > hi) <= delta/2 for X ~ Binomial(n, p); exact at p 0 and 1. */
export function binomialBand(n: number, p: number, delta: number): [number, number] {
  if (p <= 0) return [0, 0]
  if (p >= 1) return [n, n]
  const logPmf: number[] = [n * Math.log1p(-p)]
  for (let k = 0; k < n; k++) logPmf.push(logPmf[k]! + Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p)))
  const pmf = logPmf.map(Math.exp)
  let lo = 0
  for (let tail = 0; lo < n && tail + pmf[lo]! <= delta / 2; lo++) tail += pmf[lo]!
  let hi = n
  for (let tail = 0; hi > 0 && tail + pmf[hi]! <= delta / 2; hi--) tail += pmf[hi]!
  return [lo, hi]
}
