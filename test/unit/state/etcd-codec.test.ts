import { describe, expect, it } from 'vitest'
import { classifyKey, decodeDrain, decodeReplica, encodeState, etcdKeys, PENDING_REVISION, settleRevisions } from '../../../src/state/etcd-codec.js'
import { overlayConfig } from '../../../src/state/merge.js'
import { applyChange, initialState, type Weights } from '../../../src/state/store.js'

const keys = etcdKeys('/zdd/')

describe('etcd layout', () => {
  it('names and recognises its keys, escaping ids', () => {
    expect(keys.state).toBe('/zdd/state')
    expect(keys.replica('host-1:9090')).toBe('/zdd/replicas/host-1%3A9090')
    expect(classifyKey(keys, keys.replica('host-1:9090'))).toEqual({ kind: 'replica', id: 'host-1:9090' })
    expect(classifyKey(keys, keys.drain('web', 'r1'))).toEqual({ kind: 'drain', service: 'web', replica: 'r1' })
    expect(classifyKey(keys, '/zdd/state')).toEqual({ kind: 'state' })
    for (const other of ['/zdd/states', '/other/state', '/zdd/replicas/a/b', '/zdd/drains/web', '/zdd/replicas/%E0%A4%A']) {
      expect(classifyKey(keys, other), other).toEqual({ kind: 'other' })
    }
  })

  it('writes a change with pending revisions and reads them back as the key\'s mod_revision', () => {
    const base = settleRevisions(applyChange(initialState(new Map([['web', { a: 1, b: 1 }]])), { service: 'web', kind: 'weights', after: { a: 2, b: 1 }, time: 't0' }, PENDING_REVISION), 17)
    expect(base.revision).toBe(17)
    expect(base.history.map((entry) => entry.revision)).toEqual([17])
    const cutover = applyChange(
      base,
      { service: 'web', kind: 'cutover', after: { a: 0, b: 100 }, time: 't1', to: 'b', cutover: { to: 'b', from: ['a'], startedAt: 't1', drainSeconds: 5 } },
      PENDING_REVISION,
    )
    const stored = JSON.parse(encodeState(cutover)) as typeof cutover
    const read = settleRevisions(stored, 42)
    expect(read.revision).toBe(42)
    // Older entries keep their revision; only what this write added takes the new one.
    expect(read.history.map((entry) => entry.revision)).toEqual([17, 42])
    expect(read.services.web!.cutover!.revision).toBe(42)
  })

  it('reads replica and drain records, ignoring values that are not ones', () => {
    expect(decodeReplica('r1', JSON.stringify({ appliedRevision: 5, lastSeen: 'x', startedAt: 'y' }))).toEqual({ id: 'r1', appliedRevision: 5, lastSeen: 'x', startedAt: 'y' })
    for (const bad of ['', 'null', '[]', '{"appliedRevision":-1,"lastSeen":"x","startedAt":"y"}', '{"appliedRevision":1}']) expect(decodeReplica('r1', bad), bad).toBeUndefined()
    expect(decodeDrain('web', 'r2', JSON.stringify({ revision: 9, phase: 'drained', inflight: 0, counts: { completed: 3, junk: 'x' } }))).toEqual({
      replica: 'r2',
      service: 'web',
      revision: 9,
      phase: 'drained',
      inflight: 0,
      counts: { completed: 3 },
    })
    expect(decodeDrain('web', 'r2', '{"revision":9,"phase":"drained"}')).toBeUndefined()
  })
})

describe('overlayConfig (a shared state on one replica\'s config)', () => {
  const config = new Map<string, { weights: Weights; groups: string[] }>([
    ['web', { weights: { a: 1, b: 1 }, groups: ['a', 'b'] }],
    ['new', { weights: { x: 1 }, groups: ['x'] }],
  ])

  it('keeps what does not fit for the replicas it fits, adds what the state lacks, and says what does not fit', () => {
    const saved = { ...initialState(new Map<string, Weights>([['web', { a: 3, c: 1 }], ['gone', { z: 1 }]])), revision: 8 }
    const { state, problems } = overlayConfig(saved, config)
    expect(state.services).toEqual({ web: { weights: { a: 3, c: 1 } }, gone: { weights: { z: 1 } }, new: { weights: { x: 1 } } })
    expect(state.revision).toBe(8)
    expect(problems).toEqual(['services.web.weights.c: unknown group (groups: a, b)', 'service "gone" is not in this replica\'s config'])
  })
})
