import { describe, expect, it } from 'vitest'
import { parseRolloutRequest } from '../../../src/control/rollout-api.js'
import { rolloutEvents } from '../../../src/control/rollout-events.js'
import { baselineGroups, earlierBaseline, judge, stepWeights, windowFigures, type JudgeInput } from '../../../src/control/rollout-rules.js'
import { abort, advance, enterStep, fail, pause, pausedByOperator, startRollout, type StepContext } from '../../../src/control/rollout-steps.js'
import type { RolloutAnalysis, RolloutRecord, StepFigures } from '../../../src/state/rollout-record.js'
import { DURATION_BUCKETS } from '../../../src/upstream/stats.js'

const analysis: RolloutAnalysis = { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 100, compareToBaseline: false, maxWaitSeconds: 10 }
const figures = (canary: [number, number | null, number | null], baseline: [number, number | null, number | null] = [1000, 0, 5]): StepFigures => ({
  seconds: 2,
  replicas: 1,
  canary: { requests: canary[0], errorRate: canary[1], p99Ms: canary[2] },
  baseline: { requests: baseline[0], errorRate: baseline[1], p99Ms: baseline[2] },
})
const input = (over: Partial<JudgeInput>): JudgeInput => ({ figures: figures([200, 0, 5]), analysis, stepSeconds: 2, elapsedSeconds: 3, baselineWeighted: true, ...over })

describe('step weights', () => {
  it('gives the canary its percentage and the baseline groups the rest, as they shared it before', () => {
    expect({ ...stepWeights(['0.9', '1.0'], { '0.9': 80, '1.0': 20 }, '1.0', 5) }).toEqual({ '0.9': 95, '1.0': 5 })
    expect({ ...stepWeights(['a', 'b', 'c', 'd'], { a: 3, b: 1, c: 0, d: 0 }, 'd', 20) }).toEqual({ a: 60, b: 20, c: 0, d: 20 })
    expect({ ...stepWeights(['a', 'b', 'c'], { a: 1, b: 1, c: 1 }, 'c', 10) }).toEqual({ a: 45, b: 45, c: 10 })
    expect({ ...stepWeights(['a', 'b', 'c'], { a: 1, b: 2, c: 0 }, 'c', 50) }).toEqual({ a: 16.667, b: 33.333, c: 50 })
    expect(baselineGroups({ a: 1, b: 0, c: 5 }, 'c')).toEqual(['a'])
  })
})

describe('window figures', () => {
  it('sums the baseline groups and reads p99 from the histogram in ms', () => {
    const durations = DURATION_BUCKETS.map(() => 0).concat(0)
    durations[DURATION_BUCKETS.indexOf(1)] = 100 // every request in (0.5 s, 1 s]
    const counts = { requests: 100, answered5xx: 20, upstreamFailures: 0, durations }
    const quick = { requests: 50, answered5xx: 0, upstreamFailures: 1, durations: DURATION_BUCKETS.map(() => 0).concat(0) }
    const result = windowFigures({ c: counts, a: quick, b: quick }, 'c', ['a', 'b'], 2.0004, 3)
    expect(result.canary).toEqual({ requests: 100, errorRate: 0.2, p99Ms: 995 })
    expect(result.baseline).toEqual({ requests: 100, errorRate: 0.02, p99Ms: null })
    expect(result).toMatchObject({ seconds: 2, replicas: 3 })
  })
})

describe('judging a window', () => {
  const cases: { desc: string; input: JudgeInput; kind: string; reason?: RegExp }[] = [
    { desc: 'too few canary requests: wait', input: input({ figures: figures([99, 0.5, 900]) }), kind: 'wait', reason: /99 of 100 canary requests/ },
    { desc: 'too few for stepSeconds + maxWaitSeconds: pause', input: input({ figures: figures([99, 0, 5]), elapsedSeconds: 12 }), kind: 'pause', reason: /too few requests.*waited 2 \+ 10 s/ },
    { desc: 'enough and clean but time left: wait', input: input({ elapsedSeconds: 1.5 }), kind: 'wait', reason: /passing so far/ },
    { desc: 'enough, clean, time up: pass', input: input({}), kind: 'pass' },
    { desc: 'error rate above the limit fails at once, with time left', input: input({ figures: figures([200, 0.2, 5]), elapsedSeconds: 0.5 }), kind: 'fail', reason: /canary error rate 20\.00 % above the limit of 1\.00 %/ },
    { desc: 'error rate at the limit passes', input: input({ figures: figures([200, 0.01, 5]) }), kind: 'pass' },
    { desc: 'p99 above the limit fails', input: input({ figures: figures([200, 0, 995]) }), kind: 'fail', reason: /canary p99 995\.0 ms above the limit of 500 ms/ },
    {
      desc: 'compared to a baseline failing as much: pass',
      input: input({ analysis: { ...analysis, compareToBaseline: true }, figures: figures([200, 0.055, 5], [2000, 0.05, 5]) }),
      kind: 'pass',
    },
    {
      desc: 'compared to the baseline, more than the limit worse: fail, naming both rates',
      input: input({ analysis: { ...analysis, compareToBaseline: true }, figures: figures([200, 0.2, 5], [2000, 0.05, 5]) }),
      kind: 'fail',
      reason: /20\.00 % exceeds the baseline's 5\.00 % by more than 1\.00 %/,
    },
    {
      desc: 'compared to a baseline with too few requests yet: wait for it',
      input: input({ analysis: { ...analysis, compareToBaseline: true }, figures: figures([200, 0.5, 5], [99, 0, 5]) }),
      kind: 'wait',
      reason: /99 of 100 baseline requests/,
    },
    {
      desc: 'a 100 % step (no baseline traffic): an earlier step\'s baseline stands in',
      input: input({ analysis: { ...analysis, compareToBaseline: true }, baselineWeighted: false, figures: figures([200, 0.05, 5], [3, 0, 5]), earlierBaseline: { step: 2, figures: { requests: 900, errorRate: 0.05, p99Ms: 5 } } }),
      kind: 'pass',
    },
    {
      desc: 'a 100 % step and no earlier baseline: the limit alone',
      input: input({ analysis: { ...analysis, compareToBaseline: true }, baselineWeighted: false, figures: figures([200, 0.05, 5], [3, 0, 5]) }),
      kind: 'fail',
    },
  ]
  for (const { desc, input: given, kind, reason } of cases) {
    it(desc, () => {
      const verdict = judge(given)
      expect(verdict.kind).toBe(kind)
      if (reason !== undefined) expect('reason' in verdict ? verdict.reason : '').toMatch(reason)
    })
  }

  it('names the failed checks with their figures', () => {
    const verdict = judge(input({ analysis: { ...analysis, compareToBaseline: true }, figures: figures([200, 0.2, 800], [2000, 0.05, 5]) }))
    expect(verdict.kind === 'fail' && verdict.failed).toEqual([
      { check: 'errorRate', canary: 0.2, baseline: 0.05, limit: 0.01 },
      { check: 'p99', canary: 800, limit: 500 },
    ])
  })
})

const request = parseRolloutRequest({ to: 'b', steps: [10, 50, 100], stepSeconds: 2, analysis: { minRequests: 100, maxP99Ms: 500 } }, { drainSeconds: 5 })
let windows = 0
const ctx = (weights: Record<string, number>): StepContext => ({ service: 'svc', groups: ['a', 'b'], weights, time: `t${windows}`, window: `w${++windows}` })

describe('rollout transitions', () => {
  it('starts at its first step with the weights before it kept for a rollback', () => {
    const change = startRollout(request, 'r1', ctx({ a: 100, b: 0 }))
    expect(change).toMatchObject({ kind: 'weights', after: { a: 90, b: 10 }, madeBy: 'r1' })
    expect(change.rollout).toMatchObject({ phase: 'running', step: 0, before: { a: 100, b: 0 }, results: [] })
  })

  it('steps on, makes its 100 % step the cut-over, then waits for the drain', () => {
    const first = startRollout(request, 'r1', ctx({ a: 100, b: 0 })).rollout!
    const result = { step: 1, weight: 10, result: 'passed' as const, at: 't', figures: null }
    const second = advance(first, result, ctx({ a: 90, b: 10 }))
    expect(second).toMatchObject({ kind: 'weights', after: { a: 50, b: 50 } })
    expect(second.rollout).toMatchObject({ step: 1, results: [result] })
    expect(second.rollout!.window).not.toBe(first.window)
    const third = advance(second.rollout!, { ...result, step: 2, weight: 50 }, ctx({ a: 50, b: 50 }))
    expect(third).toMatchObject({ kind: 'cutover', after: { a: 0, b: 100 }, cutover: { to: 'b', from: ['a'], drainSeconds: 5 } })
    expect(third.rollout!.cutoverAt).toBe(third.cutover!.startedAt)
    const done = advance(third.rollout!, { ...result, step: 3, weight: 100 }, ctx({ a: 0, b: 100 }))
    expect(done).toMatchObject({ kind: 'rollout', rollout: { phase: 'finishing', results: [{ step: 1 }, { step: 2 }, { step: 3 }] } })
  })

  it('ends at the last weights with finish: weights, or hands over with a cut-over after a last step below 100', () => {
    const stay = startRollout({ ...request, steps: [50], finish: 'weights' }, 'r2', ctx({ a: 100, b: 0 })).rollout!
    expect(advance(stay, { step: 1, weight: 50, result: 'passed', at: 't', figures: null }, ctx({ a: 50, b: 50 })).rollout!.phase).toBe('completed')
    const handover = startRollout({ ...request, steps: [50] }, 'r3', ctx({ a: 100, b: 0 })).rollout!
    expect(advance(handover, { step: 1, weight: 50, result: 'passed', at: 't', figures: null }, ctx({ a: 50, b: 50 }))).toMatchObject({ kind: 'cutover', rollout: { phase: 'finishing' } })
  })

  it('fails and aborts back to the weights before it; pauses and resumes at its step', () => {
    const running = startRollout(request, 'r1', ctx({ a: 100, b: 0 })).rollout!
    const failed = fail(running, 'bad', [{ check: 'errorRate', canary: 0.2, limit: 0.01 }], figures([200, 0.2, 5]), ctx({ a: 90, b: 10 }))
    expect(failed).toMatchObject({ kind: 'weights', after: { a: 100, b: 0 }, rollout: { phase: 'failed', reason: 'bad' } })
    expect(abort(running, 'stop', ctx({ a: 90, b: 10 }))).toMatchObject({ kind: 'weights', after: { a: 100, b: 0 }, rollout: { phase: 'aborted' } })
    const paused = pause(running, 'wait', ctx({ a: 90, b: 10 }))
    expect(paused).toMatchObject({ kind: 'rollout', after: { a: 90, b: 10 }, rollout: { phase: 'paused', reason: 'wait' } })
    // An operator set other weights meanwhile: resume puts the step's weights back.
    expect(enterStep(paused.rollout!, 0, ctx({ a: 70, b: 30 }))).toMatchObject({ kind: 'weights', after: { a: 90, b: 10 }, rollout: { phase: 'running' } })
    expect(pausedByOperator(running, 'weights set')).toMatchObject({ phase: 'paused', reason: /weights set by the operator/ })
    expect(pausedByOperator(paused.rollout!, 'weights set')).toBeUndefined()
  })

  it('takes a too-quiet baseline from the last step that had enough', () => {
    const record = { analysis, results: [
      { step: 1, weight: 10, result: 'passed' as const, at: 't', figures: figures([150, 0, 5], [1500, 0.04, 5]) },
      { step: 2, weight: 90, result: 'passed' as const, at: 't', figures: figures([900, 0, 5], [99, 0.5, 5]) },
    ] }
    expect(earlierBaseline(record)).toEqual({ step: 1, figures: { requests: 1500, errorRate: 0.04, p99Ms: 5 } })
  })
})

describe('rollout events', () => {
  const started = startRollout(request, 'r1', ctx({ a: 100, b: 0 })).rollout!
  const types = (before: RolloutRecord | undefined, after: RolloutRecord) => rolloutEvents('svc', before, after, {}).map((event) => event.type)

  it('announces each transition once', () => {
    expect(types(undefined, started)).toEqual(['rollout_started'])
    expect(types(started, started)).toEqual([])
    const second = advance(started, { step: 1, weight: 10, result: 'passed', at: 't', figures: null }, ctx({})).rollout!
    expect(types(started, { ...second, changeId: 'x' })).toEqual(['rollout_step'])
    const paused = { ...pause(second, 'why', ctx({})).rollout!, changeId: 'y' }
    expect(types(second, paused)).toEqual(['rollout_paused'])
    const resumed = { ...enterStep(paused, 1, ctx({})).rollout!, changeId: 'z' }
    expect(types(paused, resumed)).toEqual(['rollout_resumed'])
    const promoted = { ...advance(paused, { step: 2, weight: 50, result: 'promoted', at: 't', figures: null }, ctx({})).rollout!, changeId: 'p' }
    expect(types(paused, promoted)).toEqual(['rollout_resumed', 'rollout_step'])
    expect(types(second, { ...fail(second, 'bad', [], figures([1, 1, 1]), ctx({})).rollout!, changeId: 'f' })).toEqual(['rollout_failed'])
    expect(types(second, { ...abort(second, 'stop', ctx({})).rollout!, changeId: 'a' })).toEqual(['rollout_aborted'])
  })

  it('carries the figures that failed it', () => {
    const failed = { ...fail(started, 'canary error rate 20 %', [{ check: 'errorRate', canary: 0.2, limit: 0.01 }], figures([200, 0.2, 5]), ctx({})).rollout!, changeId: 'f' }
    const [event] = rolloutEvents('svc', started, failed, { a: 100, b: 0 })
    expect(event!.payload).toMatchObject({ service: 'svc', id: 'r1', step: 1, of: 3, reason: 'canary error rate 20 %', failed: [{ check: 'errorRate', canary: 0.2 }], figures: { canary: { errorRate: 0.2 } }, restored: { a: 100, b: 0 } })
  })
})

describe('the start request', () => {
  it('fills in the defaults', () => {
    expect(parseRolloutRequest({ to: 'b' }, { drainSeconds: 30 })).toEqual({
      to: 'b',
      steps: [5, 25, 50, 100],
      stepSeconds: 30,
      analysis: { maxErrorRate: 0.01, minRequests: 100, compareToBaseline: false, maxWaitSeconds: 300 },
      finish: 'cutover',
      drainSeconds: 30,
    })
  })

  const refusals: [Record<string, unknown>, RegExp][] = [
    [{}, /^to: must be a group name/],
    [{ to: 'b', step: [1] }, /^step: unknown field/],
    [{ to: 'b', steps: [] }, /^steps: must be a list of 1 to 20/],
    [{ to: 'b', steps: [10, 10] }, /^steps\[1\]: must be above the step before it \(10\)/],
    [{ to: 'b', steps: [0] }, /^steps\[0\]: must be a percentage above 0/],
    [{ to: 'b', steps: [101] }, /^steps\[0\]/],
    [{ to: 'b', stepSeconds: 0 }, /^stepSeconds: must be a number of seconds above 0/],
    [{ to: 'b', finish: 'never' }, /^finish: must be "cutover" or "weights"/],
    [{ to: 'b', analysis: { maxErrorRate: 2 } }, /^analysis\.maxErrorRate: must be a share from 0 to 1/],
    [{ to: 'b', analysis: { minRequests: 1.5 } }, /^analysis\.minRequests: must be an integer/],
    [{ to: 'b', analysis: { compareToBaseline: 'yes' } }, /^analysis\.compareToBaseline: must be true or false/],
    [{ to: 'b', analysis: { maxP99: 5 } }, /^analysis\.maxP99: unknown field/],
    [{ to: 'b', analysis: [] }, /^analysis: must be an object/],
  ]
  for (const [body, message] of refusals) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => parseRolloutRequest(body, { drainSeconds: 30 })).toThrow(message)
    })
  }
})
