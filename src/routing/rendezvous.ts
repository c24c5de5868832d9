/**
 * Weighted rendezvous (highest random weight) hashing over groups.
 *
 * Each (key, group) pair gets a uniform u in (0, 1) from a fixed hash, and the score is
 * weight / -ln(u). The key goes to the highest score. Raising one group's weight raises only that
 * group's scores, so keys can only move into it; groups whose weights did not change keep their
 * relative order, so no key moves between them. The hash has no seed: every process and every
 * restart agrees on where a key goes.
 */

const TWO_POW_32 = 4294967296
const TWO_POW_53 = 9007199254740992

/** cyrb53-style 53-bit string hash; deterministic across processes and platforms. */
export function hashString(text: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (h2 >>> 0) % 2097152 * TWO_POW_32 + (h1 >>> 0)
}

/** murmur3's 32-bit finaliser: a full-avalanche mix of one 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Uniform number in (0, 1) for a (key, group) pair, from their 53-bit hashes. */
export function pairUniform(keyHash: number, groupHash: number): number {
  const keyLow = keyHash >>> 0
  const keyHigh = Math.floor(keyHash / TWO_POW_32) >>> 0
  const groupLow = groupHash >>> 0
  const groupHigh = Math.floor(groupHash / TWO_POW_32) >>> 0
  const a = fmix32(keyLow ^ fmix32(groupLow ^ 0x9e3779b9))
  const b = fmix32(keyHigh ^ fmix32(groupHigh ^ a ^ 0x7f4a7c15))
  // 53 bits of (a, b), shifted by half a step so u is never 0; the top value would round to 1.
  return Math.min(((a >>> 11) * TWO_POW_32 + b + 0.5) / TWO_POW_53, 1 - 1 / TWO_POW_53)
}

/** What rendezvous needs to know about a group. */
export interface RendezvousCandidate {
  readonly weight: number
  readonly hash: number
}

/**
 * Index of the candidate that owns keyHash, or -1 when no candidate has a positive weight.
 * Candidates with weight 0 never win, nor does `skip` (a group a request is leaving).
 */
export function rendezvousIndex(keyHash: number, candidates: readonly RendezvousCandidate[], skip?: RendezvousCandidate): number {
  let best = -1
  let bestScore = 0
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!
    if (!(candidate.weight > 0) || candidate === skip) continue
    const score = candidate.weight / -Math.log(pairUniform(keyHash, candidate.hash))
    if (best < 0 || score > bestScore) {
      bestScore = score
      best = i
    }
  }
  return best
}
