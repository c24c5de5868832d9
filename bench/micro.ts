/**
 * Micro-benchmarks of the pure hot-path functions, in ns per call: warm-up, then several timed
 * batches (process.hrtime.bigint) and the median batch. Results feed a sink so the optimiser
 * cannot drop the calls. Also the route selection cost by instances per group and groups.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { parseConfig } from '../src/validation/config.js'
import { buildResponseHeaders, buildUpstreamHeaders, readCookie } from '../src/proxy/headers.js'
import { newClientId } from '../src/proxy/client-id.js'
import { GroupStats } from '../src/upstream/stats.js'
import { pickInstance } from '../src/routing/pick.js'
import { hashString, rendezvousIndex } from '../src/routing/rendezvous.js'
import { chooseGroup } from '../src/routing/select.js'
import { buildServiceRoute } from '../src/routing/table.js'
import type { ServiceRoute } from '../src/routing/types.js'
import { benchWeights } from './configs.js'
import { median } from './summary.js'

export interface MicroResult {
  readonly name: string
  readonly nsPerOp: number
}

export interface MicroOptions {
  /** Target length of one timed batch, in ms. */
  readonly batchMs: number
  readonly batches: number
}

let sink = 0

/** Times `op` (called with the iteration index) and returns the median ns per call. */
export function timeOp(op: (i: number) => number, options: MicroOptions): number {
  // Warm-up, and a batch size that makes one batch last about batchMs.
  let size = 1_000
  for (;;) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < size; i++) sink += op(i)
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (ms >= options.batchMs / 4 || size >= 1e8) {
      size = Math.max(1_000, Math.round((size * options.batchMs) / Math.max(ms, 0.001)))
      break
    }
    size *= 4
  }
  const perOp: number[] = []
  // One more untimed batch at full size, so the timed ones run optimised code.
  for (let i = 0; i < size; i++) sink += op(i)
  for (let batch = 0; batch < options.batches; batch++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < size; i++) sink += op(i)
    perOp.push(Number(process.hrtime.bigint() - start) / size)
  }
  return median(perOp)
}

interface FakeInstance {
  inflight: number
  readonly id: number
}

/** A built ServiceRoute with `groups` groups of `instances` fake instances each (80/20-style weights). */
export function fakeService(groups: number, instances: number): ServiceRoute<FakeInstance> {
  const names = Array.from({ length: groups }, (_, index) => `g${index}`)
  const config = parseConfig(
    { services: [{ name: 'bench', groups: names.map((name) => ({ name, instances: ['127.0.0.1:1'] })), weights: benchWeights(names) }] },
    {},
    'bench',
  )
  let id = 0
  const live = new Map(names.map((name) => [name, Array.from({ length: instances }, () => ({ inflight: id % 3, id: id++ }))]))
  return buildServiceRoute(config.services[0]!, benchWeights(names), live)
}

/** 4096 precomputed random 53-bit key hashes, as a new client's fresh id would give. */
const KEYS = Array.from({ length: 4096 }, () => hashString(randomUUID()))

function fakeRequest(rawHeaders: string[]): IncomingMessage {
  const headers: IncomingHttpHeaders = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!
  return { rawHeaders, headers } as unknown as IncomingMessage
}

/** The hot-path functions one by one. */
export function runMicro(options: MicroOptions): MicroResult[] {
  const service = fakeService(2, 3)
  const candidates = service.candidates
  const single = fakeService(2, 1).candidates[0]!.instances
  const thousand = fakeService(2, 1000).candidates[0]!.instances
  const id = newClientId()
  const cookieHeader = `_ga=GA1.2.3; zdd_client=${id}; theme=dark`
  // What autocannon sends, and what a browser sends.
  const plainReq = fakeRequest(['Host', '127.0.0.1:8080'])
  const browserReq = fakeRequest([
    'Host', 'shop.example', 'Connection', 'keep-alive', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64)',
    'Accept', 'text/html,application/xhtml+xml', 'Accept-Encoding', 'gzip, deflate, br', 'Accept-Language', 'en-GB,en;q=0.9',
    'Cookie', cookieHeader, 'Referer', 'https://shop.example/', 'Cache-Control', 'no-cache', 'Pragma', 'no-cache',
  ])
  const upstreamResponse: IncomingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': '66',
    date: 'Thu, 26 Nov 2026 14:00:00 GMT',
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
  }
  const extra = ['set-cookie', `zdd_client=${id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax`, 'x-zdd-group', 'blue']
  const stats = new GroupStats('bench', 'blue')
  const mask = KEYS.length - 1
  const cases: [string, (i: number) => number][] = [
    ['(loop and call overhead)', (i) => i & 1],
    ['newClientId (sticky id)', () => newClientId().length],
    ['crypto.randomUUID (the id before)', () => randomUUID().length],
    [`hashString(${id.length}-char id)`, () => hashString(id)],
    ['set-cookie value (template)', (i) => `zdd_client=${id}; Path=/; Max-Age=${31536000 + (i & 1)}; HttpOnly; SameSite=Lax`.length],
    ['rendezvousIndex (2 groups)', (i) => rendezvousIndex(KEYS[i & mask]!, candidates)],
    ['chooseGroup (2 groups)', (i) => chooseGroup(service, undefined, KEYS[i & mask]!)!.weight],
    ['chooseGroup (override)', (i) => chooseGroup(service, 'g1', KEYS[i & mask]!)!.weight],
    ['pickInstance (1 instance)', () => pickInstance(single, Math.random)!.id],
    ['pickInstance (3 instances)', () => pickInstance(candidates[0]!.instances, Math.random)!.id],
    ['pickInstance (1000 instances)', () => pickInstance(thousand, Math.random)!.id],
    ['readCookie (no Cookie header)', () => (readCookie(undefined, 'zdd_client=') === undefined ? 1 : 0)],
    ['readCookie (3 cookies)', () => readCookie(cookieHeader, 'zdd_client=')!.length],
    ['buildUpstreamHeaders (Host only)', () => buildUpstreamHeaders(plainReq, '127.0.0.1', false, 'Ab3dEf-1', 'http')!.length],
    ['buildUpstreamHeaders (browser, 11)', () => buildUpstreamHeaders(browserReq, '127.0.0.1', false, 'Ab3dEf-1', 'http')!.length],
    ['buildResponseHeaders (5 + 2 extra)', () => buildResponseHeaders(upstreamResponse, extra).length],
    ['GroupStats.recordStatus+Duration', (i) => (stats.recordStatus(200), stats.recordDuration(0.0003 + (i & 7) * 1e-5), 1)],
    ['performance.now()', () => performance.now()],
  ]
  const results = cases.map(([name, op]) => ({ name, nsPerOp: timeOp(op, options) }))
  if (sink === 42) process.stdout.write('')
  return results
}

/** Route selection (chooseGroup + pickInstance) cost for each groups × instances combination. */
export function runSelectionScaling(groupCounts: readonly number[], instanceCounts: readonly number[], options: MicroOptions): { groups: number; instances: number; nsPerOp: number }[] {
  const out: { groups: number; instances: number; nsPerOp: number }[] = []
  const mask = KEYS.length - 1
  for (const groups of groupCounts) {
    for (const instances of instanceCounts) {
      const service = fakeService(groups, instances)
      const nsPerOp = timeOp((i) => pickInstance(chooseGroup(service, undefined, KEYS[i & mask]!)!.instances, Math.random)!.id, options)
      out.push({ groups, instances, nsPerOp })
    }
  }
  return out
}
