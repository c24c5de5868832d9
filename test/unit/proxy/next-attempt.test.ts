import { describe, expect, it } from 'vitest'
import { nextAttempt, roomyInstance, type FailedAttempt } from '../../../src/proxy/next-attempt.js'
import { RetryBudget, RetryPolicy } from '../../../src/proxy/retry.js'
import type { GroupRoute } from '../../../src/routing/types.js'
import type { Instance } from '../../../src/upstream/instance.js'
import { ConnectionSlots } from '../../../src/upstream/slots.js'

function instance(name: string, options: { full?: boolean; draining?: boolean } = {}): Instance {
  const slots = new ConnectionSlots(1, 1, 1_000)
  if (options.full) slots.acquire({ admitted: () => {}, expired: () => {} })
  return { address: name, inflight: 0, draining: options.draining ?? false, slots } as unknown as Instance
}

const a = instance('a')
const b = instance('b')
const group = (instances: Instance[]) => ({ name: 'g', instances }) as unknown as GroupRoute<Instance>
const policy = (budget = 5) => new RetryPolicy(['GET', 'HEAD', 'OPTIONS'], new RetryBudget(20, () => 0, budget))

/** A failed attempt on `a` in group [a, b], changed by `over`. */
const attempt = (over: Partial<FailedAttempt>): FailedAttempt => ({
  kind: 'connect',
  tried: [a],
  group: group([a, b]),
  retriesLeft: 1,
  replayable: true,
  hasBody: false,
  retriedAfterTimeout: false,
  method: 'GET',
  policy: policy(),
  ...over,
})

describe('nextAttempt', () => {
  it.each<{ desc: string; over: Partial<FailedAttempt>; next: 'b' | 'redispatch' | undefined }>([
    { desc: 'a failed connect goes to another instance', over: {}, next: 'b' },
    { desc: 'any method, after a failed connect', over: { method: 'POST', hasBody: true }, next: 'b' },
    { desc: 'a failed connect with no retry left is redispatched', over: { retriesLeft: 0 }, next: 'redispatch' },
    { desc: 'a failed connect with no other instance is redispatched', over: { group: group([a]) }, next: 'redispatch' },
    { desc: 'a failed connect whose body cannot be replayed ends', over: { replayable: false }, next: undefined },
    { desc: 'a reset GET goes to another instance', over: { kind: 'reset' }, next: 'b' },
    { desc: 'a timed-out GET goes to another instance', over: { kind: 'timeout' }, next: 'b' },
    { desc: 'a second timeout is not retried', over: { kind: 'timeout', retriedAfterTimeout: true }, next: undefined },
    { desc: 'a reset after a timeout\'s retry is retried', over: { kind: 'reset', retriedAfterTimeout: true }, next: 'b' },
    { desc: 'a reset on the last untried instance is redispatched', over: { kind: 'reset', tried: [a, b] }, next: 'redispatch' },
    { desc: 'a reset with no retry left is redispatched', over: { kind: 'reset', retriesLeft: 0 }, next: 'redispatch' },
    { desc: 'a timeout is never redispatched', over: { kind: 'timeout', retriesLeft: 0 }, next: undefined },
    { desc: 'a reset POST is not retried', over: { kind: 'reset', method: 'POST' }, next: undefined },
    { desc: 'a reset request with a body is not retried', over: { kind: 'reset', hasBody: true }, next: undefined },
    { desc: 'a reset over the retry budget is redispatched', over: { kind: 'reset', policy: policy(0) }, next: 'redispatch' },
    { desc: 'a timeout over the retry budget ends', over: { kind: 'timeout', policy: policy(0) }, next: undefined },
    { desc: 'a failed connect does not go back to an instance it failed on', over: { tried: [a, b] }, next: 'redispatch' },
    { desc: 'a failed connect over the retry budget is redispatched', over: { policy: policy(0) }, next: 'redispatch' },
  ])('$desc', ({ over, next }) => {
    const result = nextAttempt(attempt(over))
    expect(result === b ? 'b' : result).toBe(next)
  })
})

describe('roomyInstance', () => {
  it('finds an instance with a free connection that is neither the full one nor draining', () => {
    const full = instance('full', { full: true })
    const gone = instance('gone', { draining: true })
    const free = instance('free')
    for (let i = 0; i < 20; i++) expect(roomyInstance([full, gone, free], undefined)).toBe(free)
    expect(roomyInstance([full, gone], undefined)).toBeUndefined()
    expect(roomyInstance([free], free)).toBeUndefined()
  })
})
