/** A rollout in the desired state: written with the weights, read back whole, refused when it does not fit. */
import { describe, expect, it } from 'vitest'
import { classifyKey, decodeCounts, etcdKeys } from '../../../src/state/etcd-codec.js'
import { mergeWithConfig, overlayConfig } from '../../../src/state/merge.js'
import type { RolloutRecord } from '../../../src/state/rollout-record.js'
import { applyChange, initialState, StateError, type Weights } from '../../../src/state/store.js'
import { parseState } from '../../../src/validation/state.js'

const time = '2026-01-01T00:00:00.000Z'
const rollout: RolloutRecord = {
  id: 'svc-1',
  changeId: 'c1',
  to: 'b',
  before: { a: 100, b: 0 },
  steps: [10, 50, 100],
  stepSeconds: 2,
  analysis: { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 100, compareToBaseline: true, maxWaitSeconds: 60 },
  finish: 'cutover',
  drainSeconds: 5,
  phase: 'running',
  step: 1,
  window: 'w2',
  windowStartedAt: time,
  startedAt: time,
  results: [{ step: 1, weight: 10, result: 'passed', at: time, figures: { seconds: 2, replicas: 3, canary: { requests: 120, errorRate: 0, p99Ms: 3.5 }, baseline: { requests: 900, errorRate: 0.001, p99Ms: 4 } } }],
}

describe('a rollout in the desired state', () => {
  const start = initialState(new Map<string, Weights>([['svc', { a: 100, b: 0 }]]))

  it('is written with a step\'s weights, and its history entry names the rollout', () => {
    const next = applyChange(start, { service: 'svc', kind: 'weights', after: { a: 90, b: 10 }, time, rollout, madeBy: rollout.id })
    expect(next.services.svc).toEqual({ weights: { a: 90, b: 10 }, rollout })
    expect(next.history[0]).toMatchObject({ kind: 'weights', rollout: 'svc-1', before: { a: 100, b: 0 } })
    // An operator's change that only pauses it is not the rollout's change.
    const operator = applyChange(next, { service: 'svc', kind: 'weights', after: { a: 50, b: 50 }, time, rollout: { ...rollout, phase: 'paused' } })
    expect(operator.history[1]!.rollout).toBeUndefined()
    expect(operator.services.svc!.rollout!.phase).toBe('paused')
  })

  it('moves alone in a `rollout` change: same weights, no history entry, a new revision', () => {
    const stepped = applyChange(start, { service: 'svc', kind: 'weights', after: { a: 90, b: 10 }, time, rollout })
    const paused = applyChange(stepped, { service: 'svc', kind: 'rollout', after: { a: 0, b: 0 }, time, rollout: { ...rollout, phase: 'paused', reason: 'why' } })
    expect(paused.revision).toBe(2)
    expect(paused.history).toHaveLength(1)
    expect(paused.services.svc!.weights).toEqual({ a: 90, b: 10 })
    expect(paused.services.svc!.rollout!.reason).toBe('why')
  })

  it('survives a later change that does not touch it, and a save and load', () => {
    let state = applyChange(start, { service: 'svc', kind: 'weights', after: { a: 90, b: 10 }, time, rollout })
    state = applyChange(state, { service: 'svc', kind: 'cutover', after: { a: 0, b: 100 }, time, to: 'b', cutover: { to: 'b', from: ['a'], startedAt: time, drainSeconds: 5 } })
    expect(state.services.svc!.rollout).toEqual(rollout)
    expect(parseState(JSON.stringify(state), 'state.json')).toEqual(state)
  })

  it('refuses a saved rollout whose fields are wrong, naming the field', () => {
    const state = applyChange(start, { service: 'svc', kind: 'weights', after: { a: 90, b: 10 }, time, rollout: { ...rollout, step: 3 } })
    expect(() => parseState(JSON.stringify(state), 'state.json')).toThrow(/services\.svc\.rollout\.step: beyond the last step/)
    const bad = JSON.parse(JSON.stringify(state)) as { services: { svc: { rollout: Record<string, unknown> } } }
    bad.services.svc.rollout.step = 0
    bad.services.svc.rollout.phase = 'sleeping'
    expect(() => parseState(JSON.stringify(bad), 'state.json')).toThrow(/services\.svc\.rollout\.phase/)
  })

  it('must fit the config it is loaded with: a file store refuses the start, a replica lists the problem', () => {
    const state = applyChange(start, { service: 'svc', kind: 'weights', after: { a: 90, b: 10 }, time, rollout: { ...rollout, to: 'c' } })
    const config = new Map([['svc', { weights: { a: 1, b: 1 }, groups: ['a', 'b'] }]])
    expect(() => mergeWithConfig(state, config, 'state.json')).toThrow(StateError)
    expect(() => mergeWithConfig(state, config, 'state.json')).toThrow(/services\.svc\.rollout\.to: group "c" is not in the config/)
    expect(overlayConfig(state, config).problems).toEqual(['services.svc.rollout.to: group "c" is not in the config'])
  })
})

describe('rollout keys in etcd', () => {
  const keys = etcdKeys('/zdd/')

  it('names the driver key and each replica\'s counts', () => {
    expect(keys.driver).toBe('/zdd/driver')
    expect(classifyKey(keys, '/zdd/driver')).toEqual({ kind: 'driver' })
    expect(classifyKey(keys, keys.counts('web shop', 'r/1'))).toEqual({ kind: 'counts', service: 'web shop', replica: 'r/1' })
  })

  it('reads a counts record, and nothing that is not one', () => {
    const groups = { a: { requests: 10, answered5xx: 1, upstreamFailures: 0, durations: [1, 2, 7] } }
    expect(decodeCounts('web', 'r1', JSON.stringify({ window: 'w', groups }))).toEqual({ replica: 'r1', service: 'web', window: 'w', groups })
    for (const bad of ['', '{}', '{"window":"w"}', '{"window":"w","groups":{"a":{"requests":-1,"answered5xx":0,"upstreamFailures":0,"durations":[]}}}']) {
      expect(decodeCounts('web', 'r1', bad), bad).toBeUndefined()
    }
  })
})
