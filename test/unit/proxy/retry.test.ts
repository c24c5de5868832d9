import { describe, expect, it } from 'vitest'
import { RetryBudget, RetryPolicy } from '../../../src/proxy/retry.js'

describe('retry budget', () => {
  it('allows the minimum when there is no traffic yet', () => {
    const budget = new RetryBudget(20, () => 0, 5)
    const granted = Array.from({ length: 8 }, () => budget.tryAcquire())
    expect(granted.filter(Boolean)).toHaveLength(5)
  })

  it('caps retries at the percentage of requests in the window', () => {
    let requests = 0
    const budget = new RetryBudget(20, () => requests, 5)
    requests = 100
    budget.tick()
    requests = 200
    let granted = 0
    for (let i = 0; i < 100; i++) if (budget.tryAcquire()) granted++
    expect(granted).toBe(40)
  })

  it('forgets requests and retries older than the window', () => {
    let requests = 1000
    const budget = new RetryBudget(20, () => requests, 5)
    budget.tick()
    requests = 2000
    budget.tick()
    let granted = 0
    while (budget.tryAcquire()) granted++
    expect(granted).toBe(200)
    // Eleven quiet seconds later (the window plus the second they were made in) only the minimum is left.
    for (let i = 0; i < 11; i++) budget.tick()
    granted = 0
    while (budget.tryAcquire()) granted++
    expect(granted).toBe(5)
  })

  it('retries after send only the configured methods', () => {
    const policy = new RetryPolicy(['GET', 'HEAD', 'OPTIONS', 'PUT'], new RetryBudget(20, () => 0))
    expect(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'POST', 'PATCH'].map((method) => policy.retriesAfterSend(method))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ])
  })
})
