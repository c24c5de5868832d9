/**
 * `--replicas [N]`: N zdd-proxy replicas sharing their desired state in one etcd member, under a
 * paced load each, while weight changes go through a replica picked at random, one after the
 * other. Per change: the writer's answer time, and the time from the writer's 200 to the last
 * replica applying it (its `weights_changed` event on `/v1/events`). Needs `etcd` on PATH.
 */
import { existsSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { spawnChild } from './children.js'
import { freePort, standardGroups, startZdd, type Contender, type ContenderContext } from './contenders.js'
import { runPaced, type PacedResult } from './paced.js'
import { readServerSentEvents } from './sse.js'

export interface ReplicasResult {
  readonly replicas: number
  readonly changes: number
  /** Paced load per replica, req/s. */
  readonly rate: number
  /** Writer's 200 → last replica applied, ms: p50, p90, p99, max. */
  readonly applied: Percentiles
  /** PUT sent → writer's 200, ms. */
  readonly write: Percentiles
  readonly load: readonly PacedResult[]
}

export interface Percentiles {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? NaN }
}

function findEtcd(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, 'etcd'))) return join(dir, 'etcd')
  return undefined
}

/** Arrival times (performance.now()) of `weights_changed` events by revision, from one replica. */
async function watchApplied(adminUrl: string, signal: AbortSignal): Promise<Map<number, number>> {
  const arrivals = new Map<number, number>()
  const response = await request(`${adminUrl}/v1/events?event_type=weights_changed`, { signal })
  readServerSentEvents(response.body, (_type, data, at) => arrivals.set((JSON.parse(data) as { revision: number }).revision, at))
  response.body.on('error', () => {})
  return arrivals
}

async function adminUrlOf(contender: Contender): Promise<string> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const match = /"event":"admin_listening"[^\n]*"port":(\d+)/.exec(contender.output())
    if (match) return `http://127.0.0.1:${match[1]}`
    await sleep(50)
  }
  throw new Error(`${contender.name}: no admin_listening line`)
}

export async function runReplicas(
  count: number,
  changes: number,
  rate: number,
  ctx: ContenderContext,
  progress: (message: string) => void,
): Promise<ReplicasResult | { skipped: string }> {
  const etcd = findEtcd()
  if (etcd === undefined) return { skipped: 'etcd not on PATH (Debian: apt-get install etcd-server)' }
  const [client, peer] = [await freePort(), await freePort()]
  const dataDir = mkdtempSync(join(ctx.scratch, 'etcd-'))
  progress('starting etcd')
  const { child: etcdChild } = await spawnChild(
    'etcd',
    etcd,
    [
      '--name=bench',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=bench=http://127.0.0.1:${peer}`,
    ],
    { ready: /ready to serve client requests/, timeoutMs: 20_000 },
  )
  const replicas: Contender[] = []
  const abort = new AbortController()
  try {
    for (let i = 1; i <= count; i++) {
      progress(`starting replica ${i} of ${count}`)
      const state = { store: 'etcd', endpoints: [`http://127.0.0.1:${client}`], prefix: '/bench/', cachePath: join(ctx.scratch, `cache-${i}.json`), replicaId: `r${i}` }
      replicas.push(await startZdd(`zdd-replica-${i}`, standardGroups(ctx.backend), ctx, { top: { admin: { host: '127.0.0.1', port: 0 }, state } }))
    }
    const admins = await Promise.all(replicas.map(adminUrlOf))
    const streams = await Promise.all(admins.map((url) => watchApplied(url, abort.signal)))
    // Bounded: the load ends with the changes, or after 10 minutes at most.
    const loadEnd = new AbortController()
    const loads = Promise.all(replicas.map((replica) => runPaced({ url: replica.url, rate, seconds: 600, connections: 16, signal: loadEnd.signal })))
    const applied: number[] = []
    const write: number[] = []
    for (let i = 0; i < changes; i++) {
      progress(`change ${i + 1} of ${changes}`)
      const writer = admins[Math.floor(Math.random() * admins.length)]!
      const share = 1 + Math.floor(Math.random() * 99)
      const sentAt = performance.now()
      const response = await request(`${writer}/v1/services/bench/weights`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ weights: { blue: 100 - share, green: share } }),
      })
      const body = (await response.body.json()) as { revision?: number }
      const answeredAt = performance.now()
      if (response.statusCode !== 200 || body.revision === undefined) throw new Error(`change ${i}: ${response.statusCode} ${JSON.stringify(body)}`)
      write.push(answeredAt - sentAt)
      const revision = body.revision
      const deadline = answeredAt + 10_000
      while (streams.some((stream) => !stream.has(revision))) {
        if (performance.now() > deadline) throw new Error(`change ${i} (revision ${revision}) did not reach every replica within 10 s`)
        await sleep(1)
      }
      applied.push(Math.max(0, Math.max(...streams.map((stream) => stream.get(revision)!)) - answeredAt))
    }
    loadEnd.abort()
    const load = await loads
    return { replicas: count, changes, rate, applied: percentiles(applied), write: percentiles(write), load }
  } finally {
    abort.abort()
    await Promise.all(replicas.map((replica) => replica.stop()))
    await etcdChild.stop()
  }
}
