import { createSocket, type Socket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DnsSrvResolver } from '../../../src/discovery/dns-srv.js'
import { formatAddress, type InstanceAddress } from '../../../src/discovery/types.js'
import { DiscoveryWatcher, type DiscoveryFailure } from '../../../src/discovery/watcher.js'
import { mesosRecords, startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js'
import { startProcess, stopAll } from '../../helpers/processes.js'
import { builtFile } from '../../helpers/built.js'

const BLUE = '_blue-zdd._tcp.marathon.mesos'
// Refresh every second: each change below shows up within about a second; waits allow far more.
const WAIT_MS = 10_000

let dns: Dnsmasq
const watchers: DiscoveryWatcher[] = []

beforeAll(async () => {
  dns = await startDnsmasq()
})
afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.stop()
})
afterAll(async () => {
  await dns?.stop()
  await stopAll()
})

interface Seen {
  readonly watcher: DiscoveryWatcher
  /** Every set reported to onAddresses, as sorted keys. */
  readonly sets: string[][]
  /** Every failure, with the number of addresses the watcher still had when it was reported. */
  readonly failures: (DiscoveryFailure & { readonly kept: number })[]
  until(check: () => boolean, what: string): Promise<void>
}

function watch(name = BLUE, servers = [dns.server], emptyConfirmations?: number): Seen {
  const sets: string[][] = []
  const failures: (DiscoveryFailure & { kept: number })[] = []
  const waiters = new Set<() => void>()
  const notify = () => waiters.forEach((waiter) => waiter())
  const watcher: DiscoveryWatcher = new DiscoveryWatcher({
    resolver: new DnsSrvResolver({ name, servers, timeoutMs: 300, tries: 1, minCacheSeconds: 1, maxCacheSeconds: 1 }),
    refreshMinSeconds: 1,
    refreshMaxSeconds: 1,
    ...(emptyConfirmations === undefined ? {} : { emptyConfirmations }),
    onAddresses: (addresses: readonly InstanceAddress[]) => {
      sets.push(addresses.map(formatAddress))
      notify()
    },
    onError: (failure) => {
      failures.push({ ...failure, kept: watcher.current.length })
      notify()
    },
  })
  watchers.push(watcher)
  const until = (check: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const waiter = () => {
        if (!check()) return
        clearTimeout(timer)
        waiters.delete(waiter)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(new Error(`no ${what} within ${WAIT_MS} ms; sets ${JSON.stringify(sets)}, failures ${JSON.stringify(failures)}`))
      }, WAIT_MS)
      waiters.add(waiter)
      waiter()
    })
  return { watcher, sets, failures, until }
}

const last = (sets: string[][]) => sets[sets.length - 1]

describe('DiscoveryWatcher with DnsSrvResolver against dnsmasq', () => {
  it('reports the set, then each change of the records on a later refresh', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const seen = watch()
    await seen.watcher.start()
    expect(seen.sets).toEqual([['127.0.0.1:31005']])
    expect(seen.watcher.ready).toBe(true)

    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }, { port: 31006 }] }))
    await seen.until(() => last(seen.sets)?.length === 2, 'added instance')
    expect(last(seen.sets)).toEqual(['127.0.0.1:31005', '127.0.0.1:31006'])

    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31007 }] }))
    await seen.until(() => last(seen.sets)?.[0] === '127.0.0.1:31007', 'swapped set')
    expect(last(seen.sets)).toEqual(['127.0.0.1:31007'])
  })

  it('keeps the last instances while dnsmasq is down and picks up changes when it is back', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const seen = watch()
    await seen.watcher.start()
    await dns.stop()
    await seen.until(() => seen.failures.filter((failure) => failure.kind === 'error').length >= 2, 'two errors')
    expect(seen.failures[0]).toMatchObject({ kind: 'error', consecutive: 1, kept: 1, reason: expect.stringContaining('ECONNREFUSED') })
    expect(seen.watcher.current.map(formatAddress)).toEqual(['127.0.0.1:31005'])
    expect(seen.sets).toHaveLength(1)

    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }, { port: 31006 }] }))
    await seen.until(() => seen.sets.length === 2, 'set after restart')
    expect(last(seen.sets)).toEqual(['127.0.0.1:31005', '127.0.0.1:31006'])
  })

  it('empties the group only at the third empty answer in a row', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const seen = watch()
    await seen.watcher.start()
    await dns.setRecords(mesosRecords({ 'green-zdd': [{ port: 31006 }] }))
    await seen.until(() => seen.sets.length === 2, 'emptied group')
    expect(last(seen.sets)).toEqual([])
    // A lookup while dnsmasq restarts (setRecords stops and starts it) is an error, which neither
    // counts toward nor resets the streak of empty answers.
    const empties = seen.failures.filter((failure) => failure.kind === 'empty')
    expect(empties.map((failure) => [failure.kind, failure.consecutive, failure.kept])).toEqual([
      ['empty', 1, 1],
      ['empty', 2, 1],
      ['empty', 3, 0],
    ])
  })

  it('starts with DNS down: not ready, then ready with instances once DNS answers', async () => {
    await dns.stop()
    const seen = watch()
    await seen.watcher.start()
    expect(seen.watcher.ready).toBe(false)
    expect(seen.failures[0]).toMatchObject({ kind: 'error' })
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    await seen.until(() => seen.watcher.ready, 'readiness')
    expect(seen.sets).toEqual([['127.0.0.1:31005']])
  })

  it('an unknown name is empty from the start, and not ready', async () => {
    const seen = watch('_unknown._tcp.marathon.mesos')
    await seen.watcher.start()
    expect(seen.failures).toMatchObject([{ kind: 'empty', consecutive: 1 }])
    expect(seen.watcher.ready).toBe(false)
    expect(seen.sets).toEqual([])
  })
})

describe('DiscoveryWatcher leaves nothing behind', () => {
  const built = builtFile('discovery/watcher.ts')
  let silent: Socket
  beforeAll(async () => {
    silent = createSocket('udp4')
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()))
  })
  afterAll(() => silent.close())

  // A child process exits by itself only when no timer, socket or DNS query is left. Without
  // close() the query in flight to the silent server would hold it for its 30 s timeout.
  it('a process that stops its watchers mid-lookup exits on its own', async () => {
    expect(existsSync(built), 'run `npm run build` first').toBe(true)
    const code = `
      import { DiscoveryWatcher, createResolver } from ${JSON.stringify(built)}
      const [live, silent] = process.argv.slice(1)
      const dns = (server) => ({ servers: [server], timeoutMs: 30000, refreshMinSeconds: 1, refreshMaxSeconds: 1 })
      const a = new DiscoveryWatcher({ resolver: createResolver({ name: 'blue', srv: '${BLUE}' }, dns(live)),
        refreshMinSeconds: 1, refreshMaxSeconds: 1, onAddresses: (e) => console.log('addresses', JSON.stringify(e)) })
      await a.start()
      const b = new DiscoveryWatcher({ resolver: createResolver({ name: 'green', srv: '${BLUE}' }, dns(silent)),
        refreshMinSeconds: 1, refreshMaxSeconds: 1, onAddresses: () => console.log('late report') })
      void b.start()
      setTimeout(() => { a.stop(); b.stop(); console.log('stopped') }, 300)
    `
    await dns.start()
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const child = await startProcess(
      process.execPath,
      ['--input-type=module', '-e', code, dns.server, `127.0.0.1:${silent.address().port}`],
      { waitFor: /stopped/ },
    )
    const lingering = new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('still running 10 s after stop()'), 10_000)
      void child.exited.then(() => clearTimeout(timer))
    })
    expect(await Promise.race([child.exited, lingering])).toBe(0)
    expect(child.output()).toContain('addresses [{"host":"127.0.0.1","port":31005}]')
    expect(child.output()).not.toContain('late report')
  })
})
