import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConnectionSlots, type SlotWaiter } from '../../../src/upstream/slots.js'

/** A waiter that records what happened to it. */
function waiter(name: string, log: string[]): SlotWaiter {
  return { admitted: () => log.push(`${name} admitted`), expired: () => log.push(`${name} expired`) }
}

describe('ConnectionSlots', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }))
  afterEach(() => vi.useRealTimers())

  it('admits up to the limit at once, queues up to the queue limit, and refuses the rest', () => {
    const log: string[] = []
    const slots = new ConnectionSlots(2, 1, 1_000)
    expect([slots.acquire(waiter('a', log)), slots.acquire(waiter('b', log))]).toEqual(['now', 'now'])
    expect(slots.free).toBe(false)
    expect(slots.acquire(waiter('c', log))).toBe('queued')
    expect(slots.acquire(waiter('d', log))).toBe('full')
    expect(slots.waiting).toBe(1)
    expect(log).toEqual([])
  })

  it('hands a released connection to the oldest waiter, and frees it when nobody waits', () => {
    const log: string[] = []
    const slots = new ConnectionSlots(1, 5, 1_000)
    slots.acquire(waiter('a', log))
    slots.acquire(waiter('b', log))
    slots.acquire(waiter('c', log))
    slots.release()
    slots.release()
    expect(log).toEqual(['b admitted', 'c admitted'])
    expect(slots.free).toBe(false)
    slots.release()
    expect(slots.free).toBe(true)
  })

  it('expires waiters after queueMs, oldest first, and forgets cancelled ones', () => {
    const log: string[] = []
    const slots = new ConnectionSlots(1, 5, 1_000)
    slots.acquire(waiter('a', log))
    const b = waiter('b', log)
    slots.acquire(b)
    vi.advanceTimersByTime(400)
    slots.acquire(waiter('c', log))
    slots.acquire(waiter('d', log))
    slots.cancel(b)
    vi.advanceTimersByTime(700)
    expect(log).toEqual([])
    vi.advanceTimersByTime(300)
    expect(log).toEqual(['c expired', 'd expired'])
    expect(slots.waiting).toBe(0)
    // The connection still belongs to a: release frees it, nobody is left to admit.
    slots.release()
    expect(slots.free).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('ConnectionSlots.resize (a reload)', () => {
  it('sends the oldest waiters at once when the limit rises', () => {
    const log: string[] = []
    const slots = new ConnectionSlots(1, 5, 1_000)
    slots.acquire(waiter('a', log))
    slots.acquire(waiter('b', log))
    slots.acquire(waiter('c', log))
    slots.resize(2, 5, 1_000)
    expect(log).toEqual(['b admitted'])
    expect(slots.waiting).toBe(1)
  })

  it('lets fewer through after the limit falls, without cutting what runs', () => {
    const log: string[] = []
    const slots = new ConnectionSlots(3, 5, 1_000)
    for (const name of ['a', 'b', 'c']) slots.acquire(waiter(name, log))
    slots.resize(1, 5, 1_000)
    expect(slots.acquire(waiter('d', log))).toBe('queued')
    slots.release()
    slots.release()
    expect(log).toEqual([])
    slots.release()
    expect(log).toEqual(['d admitted'])
    expect(slots.free).toBe(false)
  })
})
