import { describe, expect, it } from 'vitest'
import { validateWeights } from '../../../src/routing/weights.js'

const GROUPS = ['0.9', '1.0', 'canary'] as const

describe('validateWeights rejects', () => {
  it.each([
    { desc: 'an unknown group', input: { '0.9': 50, '2.0': 50 }, field: '2.0' },
    { desc: 'an unknown group even with weight 0', input: { '0.9': 1, nope: 0 }, field: 'nope' },
    { desc: 'a negative weight', input: { '0.9': 50, '1.0': -1 }, field: '1.0' },
    { desc: 'NaN', input: { '0.9': Number.NaN, '1.0': 1 }, field: '0.9' },
    { desc: 'Infinity', input: { '0.9': Number.POSITIVE_INFINITY }, field: '0.9' },
    { desc: '-Infinity', input: { '1.0': 1, canary: Number.NEGATIVE_INFINITY }, field: 'canary' },
    { desc: 'a numeric string', input: { '0.9': '50' }, field: '0.9' },
    { desc: 'null', input: { '0.9': null, '1.0': 1 }, field: '0.9' },
    { desc: 'a boolean', input: { '0.9': true }, field: '0.9' },
    { desc: 'a bigint', input: { '0.9': 5n }, field: '0.9' },
    { desc: 'an object', input: { '0.9': { weight: 5 } }, field: '0.9' },
    { desc: 'all weights 0', input: { '0.9': 0, '1.0': 0, canary: 0 }, field: '' },
    { desc: 'an empty object', input: {}, field: '' },
    { desc: 'null instead of an object', input: null, field: '' },
    { desc: 'undefined', input: undefined, field: '' },
    { desc: 'a number', input: 100, field: '' },
    { desc: 'a string', input: '{"0.9":100}', field: '' },
    { desc: 'an empty array', input: [], field: '' },
    { desc: 'an array of weights', input: [80, 20], field: '' },
  ])('$desc (field "$field")', ({ input, field }) => {
    const result = validateWeights(input, GROUPS)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.field).toBe(field)
    // One clear line for the user.
    expect(result.message).toMatch(/^[^\n]+$/)
  })

  it('names the known groups when a group is unknown', () => {
    const result = validateWeights({ blue: 1 }, GROUPS)
    if (result.ok) throw new Error('accepted an unknown group')
    expect(result.message).toContain('canary')
  })

  it('accepts nothing when the service has no groups', () => {
    expect(validateWeights({}, []).ok).toBe(false)
  })
})

describe('validateWeights accepts', () => {
  it.each([
    {
      desc: 'every group set',
      input: { '0.9': 80, '1.0': 20, canary: 0 },
      weights: { '0.9': 80, '1.0': 20, canary: 0 },
    },
    { desc: 'missing groups, set to 0', input: { '1.0': 5 }, weights: { '0.9': 0, '1.0': 5, canary: 0 } },
    { desc: 'fractions', input: { '0.9': 0.25, canary: 0.75 }, weights: { '0.9': 0.25, '1.0': 0, canary: 0.75 } },
    { desc: 'one group at 100', input: { canary: 100 }, weights: { '0.9': 0, '1.0': 0, canary: 100 } },
  ])('$desc', ({ input, weights }) => {
    const result = validateWeights(input, GROUPS)
    expect(result).toEqual({ ok: true, weights })
  })

  it('treats -0 as 0', () => {
    const result = validateWeights({ '0.9': -0, '1.0': 1 }, GROUPS)
    expect(result.ok && result.weights['0.9'] === 0).toBe(true)
  })

  it('returns a frozen copy that does not alias the input', () => {
    const input = { '0.9': 80, '1.0': 20 }
    const result = validateWeights(input, GROUPS)
    if (!result.ok) throw new Error(result.message)
    expect(Object.isFrozen(result.weights)).toBe(true)
    input['0.9'] = 1
    expect(result.weights['0.9']).toBe(80)
  })

  it('accepts a parsed JSON body', () => {
    const result = validateWeights(JSON.parse('{"0.9":50,"1.0":50}'), GROUPS)
    expect(result.ok && result.weights).toEqual({ '0.9': 50, '1.0': 50, canary: 0 })
  })
})
