import { describe, expect, it } from 'vitest'
import { changeToUndo } from '../../../src/control/change-rules.js'
import { applyChange, HISTORY_PER_SERVICE, historyOf, initialState, type DesiredState } from '../../../src/state/store.js'

const time = '2026-01-01T00:00:00.000Z'

describe('desired state transitions', () => {
  it('starts from the config weights at revision 0', () => {
    expect(initialState(new Map([['s', { a: 1 }]]))).toEqual({ format: 'zdd-state/1', revision: 0, services: { s: { weights: { a: 1 } } }, history: [] })
  })

  it('bumps the revision, records before/after and keeps the old state unchanged', () => {
    const start = initialState(new Map<string, Record<string, number>>([['s', { a: 1, b: 0 }], ['t', { x: 1 }]]))
    const next = applyChange(start, { service: 's', kind: 'weights', after: { a: 1, b: 1 }, time, reason: 'why' })
    expect(next.revision).toBe(1)
    expect(next.services.s!.weights).toEqual({ a: 1, b: 1 })
    expect(next.services.t).toBe(start.services.t)
    expect(next.history).toEqual([{ revision: 1, time, service: 's', kind: 'weights', before: { a: 1, b: 0 }, after: { a: 1, b: 1 }, reason: 'why' }])
    expect(start.revision).toBe(0)
    expect(start.history).toEqual([])
  })

  it('records a cut-over and marks the change a rollback undid', () => {
    let state = initialState(new Map([['s', { a: 1, b: 0 }]]))
    state = applyChange(state, { service: 's', kind: 'cutover', after: { a: 0, b: 100 }, time, to: 'b', cutover: { to: 'b', from: ['a'], startedAt: time, drainSeconds: 30 } })
    expect(state.services.s!.cutover).toEqual({ revision: 1, to: 'b', from: ['a'], startedAt: time, drainSeconds: 30 })
    const undo = changeToUndo(historyOf(state, 's'))!
    state = applyChange(state, { service: 's', kind: 'rollback', after: undo.before, time, undid: undo.revision })
    expect(state.services.s!.weights).toEqual({ a: 1, b: 0 })
    expect(state.history.map((entry) => [entry.revision, entry.kind, entry.undone ?? false])).toEqual([
      [1, 'cutover', true],
      [2, 'rollback', false],
    ])
    // The cut-over record stays: it describes the last cut-over, not the weights.
    expect(state.services.s!.cutover?.revision).toBe(1)
  })

  it('rolling back repeatedly walks back through every change, then stops', () => {
    let state: DesiredState = initialState(new Map([['s', { a: 1 }]]))
    for (const a of [2, 3, 4]) state = applyChange(state, { service: 's', kind: 'weights', after: { a }, time })
    const seen: number[] = []
    for (let undo = changeToUndo(historyOf(state, 's')); undo !== undefined; undo = changeToUndo(historyOf(state, 's'))) {
      state = applyChange(state, { service: 's', kind: 'rollback', after: undo.before, time, undid: undo.revision })
      seen.push(state.services.s!.weights.a!)
    }
    expect(seen).toEqual([3, 2, 1])
    expect(state.revision).toBe(6)
  })

  it(`keeps the last ${HISTORY_PER_SERVICE} entries per service`, () => {
    let state = initialState(new Map([['s', { a: 1 }], ['t', { a: 1 }]]))
    state = applyChange(state, { service: 't', kind: 'weights', after: { a: 9 }, time })
    for (let i = 0; i < HISTORY_PER_SERVICE + 5; i++) state = applyChange(state, { service: 's', kind: 'weights', after: { a: i + 2 }, time })
    expect(historyOf(state, 's')).toHaveLength(HISTORY_PER_SERVICE)
    expect(historyOf(state, 's')[0]!.revision).toBe(7)
    expect(historyOf(state, 't')).toHaveLength(1)
  })
})
