/** Shared by the replicas-*.test.ts files: proxy replicas on one etcd, their events, and etcd read directly. */

import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Etcd3 } from 'etcd3'
import { startCli, type Started } from '../helpers/processes.js'
import { admin, openEvents, stateDir, writeConfig, type SseEvent } from './control-helpers.js'

export interface Replica extends Started {
  readonly id: string
  readonly adminUrl: string
  /** Proxy URL per service name. */
  readonly urls: ReadonlyMap<string, string>
  readonly configPath: string
  /** The first service's URL. */
  readonly url: string
}

export interface ServiceSpec {
  readonly name: string
  readonly groups: Record<string, string[]>
  readonly weights: Record<string, number>
  readonly extra?: Record<string, unknown>
}

/** A config with an admin API on port 0, the services on port 0, and state in etcd. */
export function replicaConfig(endpoints: readonly string[], id: string, services: readonly ServiceSpec[], state: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    admin: { host: '127.0.0.1', port: 0 },
    state: { store: 'etcd', endpoints, prefix: '/zdd-test/', cachePath: join(stateDir(), 'cache.json'), replicaId: id, leaseSeconds: 5, ...state },
    services: services.map((service) => ({
      name: service.name,
      listen: { host: '127.0.0.1', port: 0 },
      groups: Object.entries(service.groups).map(([name, instances]) => ({ name, instances })),
      weights: service.weights,
      exposeGroupHeader: true,
      drainSeconds: 30,
      ...service.extra,
    })),
  }
}

/** Runs `zdd-proxy serve` (with `args`, e.g. --workers 2) and waits for every listener and the admin API. */
export async function startReplica(config: Record<string, unknown>, args: readonly string[] = [], configPath?: string, env?: Record<string, string>): Promise<Replica> {
  const path = configPath ?? writeConfig(config)
  const count = (config.services as unknown[]).length
  const listening = `(?:[\\s\\S]*?"event":"listening"[^\\n]*){${count}}`
  const started = await startCli(['serve', '--config', path, ...args], {
    waitFor: new RegExp(`${listening}[\\s\\S]*"event":"admin_listening"[^\\n]*"port":(\\d+)`),
    timeoutMs: 30_000,
    ...(env === undefined ? {} : { env }),
  })
  const urls = new Map<string, string>()
  for (const match of started.output().matchAll(/"event":"listening","service":"([^"]+)"[^\n]*"port":(\d+)/g)) {
    urls.set(match[1]!, `http://127.0.0.1:${match[2]}`)
  }
  const state = config.state as { replicaId: string }
  return Object.assign(started, {
    id: state.replicaId,
    adminUrl: `http://127.0.0.1:${started.match[1]}`,
    urls,
    url: urls.values().next().value!,
    configPath: path,
  })
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs` with `what`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** The revision a replica routes with, from its admin API. */
export async function revisionOf(replica: Replica, service: string): Promise<number> {
  return (await admin(replica.adminUrl, 'GET', `/v1/services/${service}`)).json.revision as number
}

/** Waits until every replica routes with `revision` (or a later one) of `service`. */
export async function converged(replicas: readonly Replica[], service: string, revision: number, timeoutMs = 15_000): Promise<void> {
  await eventually(`every replica at revision ${revision}`, async () => (await Promise.all(replicas.map((r) => revisionOf(r, service)))).every((rev) => rev >= revision), timeoutMs)
}

/** PUT weights through one replica. */
export function putWeights(replica: Replica, service: string, weights: Record<string, number>, headers: Record<string, string> = {}, reason?: string) {
  return admin(replica.adminUrl, 'PUT', `/v1/services/${service}/weights`, reason === undefined ? { weights } : { weights, reason }, headers)
}

/** One event of `/v1/events` with the time it arrived: `openEvents`' events. */
export type TimedEvent = SseEvent

/** A client of one replica's `/v1/events` that notes when each event arrived. */
export const timedEvents = openEvents

/** The desired state as stored in etcd (the history in full, which the API shows only the end of). */
export async function storedState(endpoints: readonly string[], prefix = '/zdd-test/'): Promise<{ revision: number; history: { revision: number; reason?: string; id?: string }[] } | undefined> {
  const client = new Etcd3({ hosts: [...endpoints] })
  try {
    const response = await client.get(`${prefix}state`).exec()
    const kv = response.kvs[0]
    if (kv === undefined) return undefined
    const state = JSON.parse(kv.value.toString()) as { history: { revision: number; reason?: string; id?: string }[] }
    // The newest entry is stored with revision 0 (see src/state/etcd-codec.ts).
    const revision = Number(kv.mod_revision)
    return { revision, history: state.history.map((entry) => (entry.revision === 0 ? { ...entry, revision } : entry)) }
  } finally {
    client.close()
  }
}

/** Compacts etcd's history up to its current revision: older revisions can no longer be watched. */
export async function compactEtcd(endpoints: readonly string[]): Promise<number> {
  const client = new Etcd3({ hosts: [...endpoints] })
  try {
    const revision = (await client.get('compaction-probe').exec()).header.revision
    await client.kv.compact({ revision, physical: true })
    return Number(revision)
  } finally {
    client.close()
  }
}
