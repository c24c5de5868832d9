import { describe, expect, it } from 'vitest'
import {
  applyCheckOutcome,
  deriveState,
  eject,
  endEjection,
  initialFacts,
  markDraining,
  markReady,
  type CheckOutcome,
  type InstanceFacts,
} from '../../../src/health/status.js'

const rule = { gracePeriodSeconds: 10, maxConsecutiveFailures: 3 }

/** Applies outcomes of check 0 at the given times (ms). */
function run(facts: InstanceFacts, steps: readonly [CheckOutcome, number][], checkRule = rule): InstanceFacts {
  return steps.reduce((current, [outcome, at]) => applyCheckOutcome(current, 0, outcome, checkRule, at), facts)
}

describe('instance state machine', () => {
  const cases: { desc: string; facts: () => InstanceFacts; state: string }[] = [
    { desc: 'no checks: healthy at once', facts: () => initialFacts(0, false, 0), state: 'healthy' },
    { desc: 'health check only: starting', facts: () => initialFacts(0, false, 1), state: 'starting' },
    { desc: 'readiness only: starting', facts: () => initialFacts(0, true, 0), state: 'starting' },
    { desc: 'readiness passed, no health check: healthy', facts: () => markReady(initialFacts(0, true, 0)), state: 'healthy' },
    { desc: 'readiness passed, health pending: ready', facts: () => markReady(initialFacts(0, true, 1)), state: 'ready' },
    { desc: 'health passed, readiness pending: starting', facts: () => run(initialFacts(0, true, 1), [['pass', 1]]), state: 'starting' },
    { desc: 'both passed: healthy', facts: () => run(markReady(initialFacts(0, true, 1)), [['pass', 1]]), state: 'healthy' },
    { desc: 'failures inside the grace period before any pass do not count', facts: () => run(initialFacts(0, false, 1), [['fail', 1], ['fail', 2], ['fail', 3], ['fail', 4]]), state: 'starting' },
    { desc: 'failures after the grace period count', facts: () => run(initialFacts(0, false, 1), [['fail', 10_000], ['fail', 11_000], ['fail', 12_000]]), state: 'unhealthy' },
    { desc: 'after the first pass, failures count even inside the grace period', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2], ['fail', 3], ['fail', 4]]), state: 'unhealthy' },
    { desc: 'fewer than maxConsecutiveFailures keep it healthy', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2], ['fail', 3]]), state: 'healthy' },
    { desc: 'a pass in between resets the count', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2], ['fail', 3], ['pass', 4], ['fail', 5], ['fail', 6]]), state: 'healthy' },
    { desc: 'unhealthy returns at the next pass', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2], ['fail', 3], ['fail', 4], ['pass', 5]]), state: 'healthy' },
    { desc: 'ignored outcomes change nothing', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2], ['fail', 3], ['ignored', 4]]), state: 'healthy' },
    { desc: 'maxConsecutiveFailures 0 reads as 1', facts: () => run(initialFacts(0, false, 1), [['pass', 1], ['fail', 2]], { gracePeriodSeconds: 0, maxConsecutiveFailures: 0 }), state: 'unhealthy' },
    { desc: 'ejected wins over healthy', facts: () => eject(initialFacts(0, false, 0), 0, 1000), state: 'ejected' },
    { desc: 'draining wins over everything', facts: () => markDraining(eject(initialFacts(0, true, 1), 0, 1000)), state: 'draining' },
  ]
  for (const { desc, facts, state } of cases) it(desc, () => expect(deriveState(facts())).toBe(state))

  it('one of several health checks failing makes the instance unhealthy', () => {
    let facts = initialFacts(0, false, 2)
    facts = applyCheckOutcome(facts, 0, 'pass', rule, 1)
    facts = applyCheckOutcome(facts, 1, 'pass', rule, 1)
    expect(deriveState(facts)).toBe('healthy')
    for (let at = 2; at < 5; at++) facts = applyCheckOutcome(facts, 1, 'fail', rule, at)
    expect(deriveState(facts)).toBe('unhealthy')
    expect(facts.checks[0]).toEqual({ passedOnce: true, failures: 0, failing: false })
  })

  it('readiness stays passed', () => {
    const ready = markReady(initialFacts(0, true, 0))
    expect(markReady(ready)).toBe(ready)
    expect(ready.readiness).toBe('passed')
  })

  describe('ejection', () => {
    it('ends after its time without active checks', () => {
      const ejected = eject(initialFacts(0, false, 0), 100, 1000)
      expect(ejected.ejections).toBe(1)
      expect(endEjection(ejected, 1099, false)).toBe(ejected)
      const back = endEjection(ejected, 1100, false)
      expect(deriveState(back)).toBe('healthy')
      expect(back.lastEjectionEndMs).toBe(1100)
    })

    it('with unejectOnPass, a passing check ends a running ejection at once; a failing one does not', () => {
      let facts = run(initialFacts(0, false, 1), [['pass', 1]])
      facts = eject(facts, 10, 30_000)
      facts = applyCheckOutcome(facts, 0, 'fail', rule, 500, true)
      expect(deriveState(facts)).toBe('ejected')
      facts = applyCheckOutcome(facts, 0, 'pass', rule, 1000, true)
      expect(deriveState(facts)).toBe('healthy')
      expect(facts).toMatchObject({ ejectedUntilMs: undefined, lastEjectionEndMs: 1000, ejections: 1 })
    })

    it('with active checks, ends at the first pass after its time', () => {
      let facts = run(initialFacts(0, false, 1), [['pass', 1]])
      facts = eject(facts, 10, 1000)
      facts = applyCheckOutcome(facts, 0, 'pass', rule, 500)
      expect(deriveState(facts)).toBe('ejected')
      facts = endEjection(facts, 1010, true)
      expect(facts.awaitingPass).toBe(true)
      expect(deriveState(facts)).toBe('ejected')
      facts = applyCheckOutcome(facts, 0, 'fail', rule, 1500)
      expect(deriveState(facts)).toBe('ejected')
      facts = applyCheckOutcome(facts, 0, 'pass', rule, 2000)
      expect(deriveState(facts)).toBe('healthy')
    })
  })
})
