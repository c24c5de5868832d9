import { describe, expect, it } from 'vitest'
import { changeToUndo, cutoverWeights, drainCounts, drainedGroups, refuseCutover, type CutoverTarget } from '../../../src/control/change-rules.js'
import type { HistoryEntry } from '../../../src/state/store.js'

describe('refuseCutover', () => {
  const cases: { desc: string; target: CutoverTarget; refused: RegExp | undefined }[] = [
    { desc: 'no instances at all', target: { group: 'g', known: 0, live: 0, minReady: undefined }, refused: /has no instances/ },
    { desc: 'none live', target: { group: 'g', known: 3, live: 0, minReady: undefined }, refused: /no live instance \(0 of 3 ready\)/ },
    { desc: 'some not ready, all required', target: { group: 'g', known: 3, live: 2, minReady: undefined }, refused: /only 2 of 3 .*all are required/ },
    { desc: 'all ready', target: { group: 'g', known: 3, live: 3, minReady: undefined }, refused: undefined },
    { desc: 'enough for minReady', target: { group: 'g', known: 3, live: 2, minReady: 2 }, refused: undefined },
    { desc: 'below minReady', target: { group: 'g', known: 3, live: 1, minReady: 2 }, refused: /minReady is 2/ },
    { desc: 'minReady never allows zero live', target: { group: 'g', known: 3, live: 0, minReady: 1 }, refused: /no live instance/ },
  ]
  for (const { desc, target, refused } of cases) {
    it(desc, () => {
      const reason = refuseCutover(target)
      if (refused === undefined) expect(reason).toBeUndefined()
      else expect(reason).toMatch(refused)
    })
  }
})

describe('cut-over weights', () => {
  it('gives the target 100 and every other group 0', () => {
    expect({ ...cutoverWeights(['blue', 'green', 'canary'], 'green') }).toEqual({ blue: 0, green: 100, canary: 0 })
  })

  it('drains the groups that had traffic and have none after', () => {
    expect(drainedGroups({ blue: 80, green: 20, old: 0 }, { blue: 0, green: 100, old: 0 })).toEqual(['blue'])
    expect(drainedGroups({ green: 100 }, { blue: 0, green: 100 })).toEqual([])
  })
})

describe('changeToUndo', () => {
  const entry = (revision: number, kind: HistoryEntry['kind'], extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
    revision,
    time: '2026-01-01T00:00:00.000Z',
    service: 's',
    kind,
    before: {},
    after: {},
    ...extra,
  })

  it('picks the latest change that is neither a rollback nor undone (an undo stack)', () => {
    expect(changeToUndo([])).toBeUndefined()
    expect(changeToUndo([entry(1, 'weights'), entry(2, 'cutover')])?.revision).toBe(2)
    expect(changeToUndo([entry(1, 'weights'), entry(2, 'cutover', { undone: true }), entry(3, 'rollback', { undid: 2 })])?.revision).toBe(1)
    expect(changeToUndo([entry(1, 'weights', { undone: true }), entry(2, 'rollback', { undid: 1 })])).toBeUndefined()
  })
})

describe('drainCounts', () => {
  it('splits the in-flight requests at start into completed and cut or remaining', () => {
    expect(drainCounts(5, 0, 'drained')).toEqual({ inflightAtStart: 5, completed: 5, cut: 0, remaining: 0 })
    expect(drainCounts(5, 2, 'deadline')).toEqual({ inflightAtStart: 5, completed: 3, cut: 2, remaining: 0 })
    expect(drainCounts(5, 4, 'superseded')).toEqual({ inflightAtStart: 5, completed: 1, cut: 0, remaining: 4 })
    expect(drainCounts(1, 3, 'deadline')).toEqual({ inflightAtStart: 1, completed: 0, cut: 1, remaining: 0 })
  })
})
