/** reconcileOnReload: the desired state under a reloaded config. */
import { describe, expect, it } from 'vitest'
import { reconcileOnReload } from '../../../src/state/merge.js'
import { initialState, type DesiredState, type Weights } from '../../../src/state/store.js'

function state(services: Record<string, Weights>): DesiredState {
  return { ...initialState(new Map(Object.entries(services))), revision: 7 }
}

function config(services: Record<string, { weights: Weights; groups: string[] }>) {
  return new Map(Object.entries(services))
}

describe('reconcileOnReload', () => {
  const cases: { desc: string; saved: Record<string, Weights>; file: Record<string, { weights: Weights; groups: string[] }>; expected: Record<string, Weights>; changed: boolean }[] = [
    {
      desc: 'the saved weights win over the file\'s',
      saved: { s: { a: 90, b: 10 } },
      file: { s: { weights: { a: 1, b: 1 }, groups: ['a', 'b'] } },
      expected: { s: { a: 90, b: 10 } },
      changed: false,
    },
    {
      desc: 'a new service starts with the file\'s weights; a removed one leaves',
      saved: { s: { a: 1 }, gone: { x: 1 } },
      file: { s: { weights: { a: 1 }, groups: ['a'] }, t: { weights: { c: 2 }, groups: ['c'] } },
      expected: { s: { a: 1 }, t: { c: 2 } },
      changed: true,
    },
    {
      desc: 'a new group weighs 0 until set; a removed group with weight 0 leaves',
      saved: { s: { a: 1, old: 0 } },
      file: { s: { weights: { a: 1, fresh: 5 }, groups: ['a', 'fresh'] } },
      expected: { s: { a: 1, fresh: 0 } },
      changed: true,
    },
  ]
  for (const { desc, saved, file, expected, changed } of cases) {
    it(desc, () => {
      const result = reconcileOnReload(state(saved), config(file))
      if ('conflict' in result) throw new Error(result.conflict.message)
      expect(Object.fromEntries(Object.entries(result.state.services).map(([name, service]) => [name, { ...service.weights }]))).toEqual(expected)
      expect(result.changed).toBe(changed)
      expect(result.state.revision).toBe(7)
    })
  }

  it('refuses to drop a group that still has a weight', () => {
    const result = reconcileOnReload(state({ s: { a: 80, b: 20 } }), config({ s: { weights: { a: 1 }, groups: ['a'] } }))
    expect(result).toEqual({ conflict: { service: 's', group: 'b', message: expect.stringContaining('group "b" is gone from the file but still has weight 20') } })
  })
})
