import { describe, expect, it, vi } from 'vitest'
import {
  applyResolution,
  DiscoveryWatcher,
  NO_ANSWER_YET,
  nextRefreshSeconds,
  type DiscoveryFailure,
  type Timers,
  type WatchFacts,
} from '../../../src/discovery/watcher.js'
import { formatAddress, type InstanceAddress, type Resolution, type Resolver } from '../../../src/discovery/types.js'

const bounds = { refreshMinSeconds: 1, refreshMaxSeconds: 30 }
const ep = (port: number, host = '127.0.0.1'): InstanceAddress => ({ host, port })
const ok = (ports: number[], ttlSeconds?: number): Resolution =>
  ttlSeconds === undefined
    ? { kind: 'ok', addresses: ports.map((port) => ep(port)) }
    : { kind: 'ok', addresses: ports.map((port) => ep(port)), ttlSeconds }
const empty: Resolution = { kind: 'empty', reason: 'NXDOMAIN' }
const error: Resolution = { kind: 'error', reason: 'ETIMEOUT' }

describe('nextRefreshSeconds', () => {
  const cases = [
    { desc: 'ok without TTL waits the maximum', resolution: ok([1]), want: 30 },
    { desc: 'ok with TTL 10 waits 10', resolution: ok([1], 10), want: 10 },
    { desc: 'TTL 0 is raised to the minimum', resolution: ok([1], 0), want: 1 },
    { desc: 'TTL 3600 is lowered to the maximum', resolution: ok([1], 3600), want: 30 },
    { desc: 'error retries at the minimum', resolution: error, want: 1 },
    { desc: 'empty retries at the minimum', resolution: empty, want: 1 },
  ]
  for (const { desc, resolution, want } of cases) {
    it(desc, () => expect(nextRefreshSeconds(resolution, bounds)).toBe(want))
  }
})

describe('applyResolution', () => {
  const options = { ...bounds, emptyConfirmations: 3 }
  /** Feeds resolutions in order and returns every step's (changed, failure) plus the final facts. */
  const run = (resolutions: Resolution[], start: WatchFacts = NO_ANSWER_YET) => {
    let facts = start
    const steps = resolutions.map((resolution) => {
      const step = applyResolution(facts, resolution, options)
      facts = step.facts
      return { changed: step.changed?.map(formatAddress), failure: step.failure && [step.failure.kind, step.failure.consecutive] }
    })
    return { steps, facts }
  }

  const cases: { desc: string; input: Resolution[]; changed: (string[] | undefined)[]; final: number[]; ready: boolean }[] = [
    { desc: 'first answer is a change', input: [ok([2, 1])], changed: [['127.0.0.1:1', '127.0.0.1:2']], final: [1, 2], ready: true },
    { desc: 'same set again (other order) is no change', input: [ok([1, 2]), ok([2, 1])], changed: [['127.0.0.1:1', '127.0.0.1:2'], undefined], final: [1, 2], ready: true },
    { desc: 'error keeps the addresses', input: [ok([1]), error, error], changed: [['127.0.0.1:1'], undefined, undefined], final: [1], ready: true },
    { desc: 'two empties keep the addresses', input: [ok([1]), empty, empty], changed: [['127.0.0.1:1'], undefined, undefined], final: [1], ready: true },
    { desc: 'the third empty in a row clears them', input: [ok([1]), empty, empty, empty], changed: [['127.0.0.1:1'], undefined, undefined, []], final: [], ready: true },
    { desc: 'an ok resets the empty count', input: [ok([1]), empty, empty, ok([1]), empty, empty], changed: [['127.0.0.1:1'], undefined, undefined, undefined, undefined, undefined], final: [1], ready: true },
    { desc: 'errors between empties neither count nor reset', input: [ok([1]), empty, error, empty, error, empty], changed: [['127.0.0.1:1'], undefined, undefined, undefined, undefined, []], final: [], ready: true },
    { desc: 'errors only: not ready, nothing reported', input: [error, error], changed: [undefined, undefined], final: [], ready: false },
    { desc: 'empties from the start: nothing to clear', input: [empty, empty, empty], changed: [undefined, undefined, undefined], final: [], ready: false },
    { desc: 'comes back after being cleared', input: [ok([1]), empty, empty, empty, ok([1])], changed: [['127.0.0.1:1'], undefined, undefined, [], ['127.0.0.1:1']], final: [1], ready: true },
    { desc: 'duplicates in an answer are merged', input: [ok([1, 1])], changed: [['127.0.0.1:1']], final: [1], ready: true },
  ]
  for (const { desc, input, changed, final, ready } of cases) {
    it(desc, () => {
      const { steps, facts } = run(input)
      expect(steps.map((step) => step.changed)).toEqual(changed)
      expect(facts.addresses.map((address) => address.port)).toEqual(final)
      expect(facts.ready).toBe(ready)
    })
  }

  it('counts consecutive failures per kind', () => {
    const { steps } = run([error, error, empty, empty, error, ok([1]), error])
    expect(steps.map((step) => step.failure)).toEqual([
      ['error', 1], ['error', 2], ['empty', 1], ['empty', 2], ['error', 1], undefined, ['error', 1],
    ])
  })
})

/** Timers the test fires by hand; handles record unref(). */
class FakeTimers implements Timers {
  readonly pending = new Map<object, { callback: () => void; ms: number }>()
  readonly unrefs = vi.fn()
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = { unref: this.unrefs }
    this.pending.set(handle, { callback, ms })
    return handle
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as object)
  }
  /** Runs the one pending timer and lets the lookup it starts finish. */
  async fire(): Promise<number> {
    expect(this.pending.size).toBe(1)
    const [handle, { callback, ms }] = [...this.pending][0]!
    this.pending.delete(handle)
    callback()
    await settle()
    return ms
  }
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Answers from a script; `hold()` makes the next lookup wait until released. */
class ScriptedResolver implements Resolver {
  readonly description = 'scripted'
  readonly close = vi.fn()
  calls = 0
  #held: ((resolution: Resolution) => void) | undefined
  constructor(private readonly script: Resolution[]) {}
  resolve(): Promise<Resolution> {
    this.calls++
    if (this.#holding) return new Promise((resolve) => (this.#held = resolve))
    return Promise.resolve(this.script.shift() ?? error)
  }
  #holding = false
  hold(): void {
    this.#holding = true
  }
  release(resolution: Resolution): void {
    this.#held?.(resolution)
  }
}

function watch(script: Resolution[], emptyConfirmations?: number) {
  const timers = new FakeTimers()
  const resolver = new ScriptedResolver(script)
  const addresses: string[][] = []
  const failures: DiscoveryFailure[] = []
  const watcher = new DiscoveryWatcher({
    ...bounds,
    resolver,
    timers,
    ...(emptyConfirmations === undefined ? {} : { emptyConfirmations }),
    onAddresses: (set) => addresses.push(set.map(formatAddress)),
    onError: (failure) => failures.push(failure),
  })
  return { timers, resolver, watcher, addresses, failures }
}

describe('DiscoveryWatcher', () => {
  it('looks up at once, then on the schedule, reporting only changes', async () => {
    const { timers, watcher, addresses } = watch([ok([1], 5), ok([1], 5), ok([1, 2], 0)])
    expect(watcher.ready).toBe(false)
    await watcher.start()
    expect(watcher.ready).toBe(true)
    expect(addresses).toEqual([['127.0.0.1:1']])
    expect(await timers.fire()).toBe(5000)
    expect(addresses).toHaveLength(1)
    expect(await timers.fire()).toBe(5000)
    expect(addresses).toEqual([['127.0.0.1:1'], ['127.0.0.1:1', '127.0.0.1:2']])
    expect(watcher.current.map(formatAddress)).toEqual(['127.0.0.1:1', '127.0.0.1:2'])
    // TTL 0 was clamped to the minimum.
    expect([...timers.pending.values()][0]!.ms).toBe(1000)
    watcher.stop()
  })

  it('keeps addresses on errors and retries at the minimum', async () => {
    const { timers, watcher, addresses, failures } = watch([ok([1]), error, error])
    await watcher.start()
    expect(await timers.fire()).toBe(30_000)
    expect(await timers.fire()).toBe(1000)
    expect(failures.map((failure) => [failure.kind, failure.consecutive, failure.reason])).toEqual([
      ['error', 1, 'ETIMEOUT'],
      ['error', 2, 'ETIMEOUT'],
    ])
    expect(addresses).toEqual([['127.0.0.1:1']])
    expect(watcher.current).toHaveLength(1)
    watcher.stop()
  })

  it('empties the group only after the configured number of empty answers', async () => {
    const { timers, watcher, addresses, failures } = watch([ok([1]), empty, empty, empty], 3)
    await watcher.start()
    await timers.fire()
    await timers.fire()
    expect(watcher.current).toHaveLength(1)
    await timers.fire()
    expect(watcher.current).toEqual([])
    expect(addresses).toEqual([['127.0.0.1:1'], []])
    expect(failures.map((failure) => failure.consecutive)).toEqual([1, 2, 3])
    watcher.stop()
  })

  it('honours emptyConfirmations: 1', async () => {
    const { watcher, addresses } = watch([empty], 1)
    await watcher.start()
    expect(addresses).toEqual([])
    watcher.stop()
  })

  it('unrefs its timer; stop() clears it and closes the resolver', async () => {
    const { timers, resolver, watcher } = watch([ok([1])])
    await watcher.start()
    expect(timers.unrefs).toHaveBeenCalledTimes(1)
    expect(timers.pending.size).toBe(1)
    watcher.stop()
    expect(timers.pending.size).toBe(0)
    expect(resolver.close).toHaveBeenCalledTimes(1)
    watcher.stop()
    expect(resolver.close).toHaveBeenCalledTimes(1)
  })

  it('reports nothing and schedules nothing for a lookup that finishes after stop()', async () => {
    const { timers, resolver, watcher, addresses, failures } = watch([])
    resolver.hold()
    const started = watcher.start()
    await settle()
    expect(resolver.calls).toBe(1)
    watcher.stop()
    resolver.release(ok([1]))
    await started
    expect(addresses).toEqual([])
    expect(failures).toEqual([])
    expect(timers.pending.size).toBe(0)
    expect(watcher.ready).toBe(false)
  })

  it('survives a resolver that throws despite the contract', async () => {
    const timers = new FakeTimers()
    const failures: DiscoveryFailure[] = []
    const watcher = new DiscoveryWatcher({
      ...bounds,
      timers,
      resolver: { description: 'broken', resolve: () => Promise.reject(new Error('boom')) },
      onAddresses: () => {},
      onError: (failure) => failures.push(failure),
    })
    await watcher.start()
    expect(failures).toEqual([{ kind: 'error', reason: 'boom', consecutive: 1 }])
    expect(timers.pending.size).toBe(1)
    watcher.stop()
  })

  it('start() twice does one lookup', async () => {
    const { resolver, watcher } = watch([ok([1])])
    await Promise.all([watcher.start(), watcher.start()])
    expect(resolver.calls).toBe(1)
    watcher.stop()
  })
})
