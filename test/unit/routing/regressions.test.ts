import { describe, expect, it } from 'vitest'
import { serviceConfig } from '../../helpers/routing-fixtures.js'
import { hashString, pairUniform, rendezvousIndex } from '../../../src/routing/rendezvous.js'
import { chooseGroup } from '../../../src/routing/select.js'
import { buildServiceRoute } from '../../../src/routing/table.js'
import { validateWeights } from '../../../src/routing/weights.js'

// Edge cases found while testing src/routing. Each test states the contract; they failed against the
// first version of src/routing (commit 83a5805) and pass once the fixes described in the helper's
// report land.

const oneInstanceEach = (groupNames: readonly string[]): Map<string, string[]> =>
  new Map(groupNames.map((name) => [name, [`${name}-instance`]]))

describe('pairUniform stays inside (0, 1)', () => {
  // This key hash makes the two 32-bit words of pairUniform all ones for the group "canary" (found by
  // inverting murmur3's fmix32). (2^53 - 1) + 0.5 is not a double and rounds up to 2^53, so u was
  // exactly 1; then -Math.log(1) is -0 and the score weight / -0 is -Infinity.
  const KEY_HASH = 2549509325773194
  const CANARY = hashString('canary')

  it('is below 1 for the all-ones pair', () => {
    expect(pairUniform(KEY_HASH, CANARY)).toBeLessThan(1)
  })

  it('lets a lone candidate with a positive weight win for that key', () => {
    expect(rendezvousIndex(KEY_HASH, [{ weight: 1, hash: CANARY }])).toBe(0)
  })
})

describe('weights that validateWeights accepts are routable', () => {
  const groups = ['0.9', '1.0']
  const keys = Array.from({ length: 10_000 }, (_, i) => hashString(`user-${i}`))

  it.each([
    // The sum overflows to Infinity, so every share was 0: no candidates, every request a 503.
    { desc: 'huge (sum overflows)', input: { '0.9': 1e308, '1.0': 1e308 } },
    // weight / -ln(u) underflows to 0, which never beats the initial best score: about 1.7 % of keys
    // found no group.
    { desc: 'subnormal (scores underflow)', input: { '0.9': Number.MIN_VALUE, '1.0': Number.MIN_VALUE } },
  ])('$desc: rejected, or every key finds a group', ({ input }) => {
    const result = validateWeights(input, groups)
    if (!result.ok) return
    const built = buildServiceRoute(serviceConfig(groups), result.weights, oneInstanceEach(groups))
    expect(built.candidates).toHaveLength(2)
    let unrouted = 0
    for (const key of keys) if (chooseGroup(built, undefined, key) === undefined) unrouted++
    expect(unrouted).toBe(0)
  })
})

describe('group names that are also Object.prototype members', () => {
  it('validateWeights keeps the weight of a group named "__proto__"', () => {
    // JSON.parse makes "__proto__" an own key of the body; assigning it onto a plain object hits the
    // prototype setter instead, so the weight was dropped while the result still said ok.
    const result = validateWeights(JSON.parse('{"__proto__": 5, "b": 0}'), ['__proto__', 'b'])
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(Object.hasOwn(result.weights, '__proto__')).toBe(true)
    expect(result.weights['__proto__']).toBe(5)
  })

  it('buildServiceRoute gives a group named "constructor" that is missing from the weights weight 0', () => {
    // `weights[name] ?? 0` reads inherited members: the weight was the Object function.
    const groups = ['constructor', 'b']
    const built = buildServiceRoute(serviceConfig(groups), { b: 1 }, oneInstanceEach(groups))
    expect(built.groupsByName.get('constructor')!.weight).toBe(0)
  })
})
