/**
 * The IPC contract between the cluster primary (control side) and its workers (data plane), as
 * plain JSON messages. The primary pushes routing snapshots and drain orders; workers send back
 * what they saw (load, outcomes, traffic counters) so health, metrics and status keep working.
 */
import type { Config } from '../config/types.js'
import type { Upstream } from '../upstream/pools.js'
import type { FailureKind } from '../proxy/errors.js'
import type { RouteTable } from '../routing/types.js'

/** One live instance of a group in a pushed snapshot. */
export interface EndpointMessage {
  readonly host: string
  readonly port: number
}

export interface GroupSnapshot {
  readonly name: string
  readonly weight: number
  /** Live instances in snapshot order; an instance in slow start may appear fewer times than the others. */
  readonly instances: readonly EndpointMessage[]
  /**
   * Instances discovery knows that are not live (unhealthy, ejected, not ready): the worker keeps
   * their pools, as the single process does, so an ejection does not cut their running requests.
   */
  readonly standby: readonly EndpointMessage[]
}

export interface ServiceSnapshot {
  readonly name: string
  readonly groups: readonly GroupSnapshot[]
}

// Primary → worker.

/** A new routing snapshot: sent on every swap and to each worker once it says hello. */
export interface SnapshotMessage {
  readonly type: 'snapshot'
  readonly revision: number
  readonly services: readonly ServiceSnapshot[]
}

/** A cut-over detached the pool of `service`'s instance `key`: detach yours too and report it as `id`. */
export interface DetachMessage {
  readonly type: 'detach'
  readonly id: number
  readonly service: string
  readonly key: string
}

/** The drain deadline of detach `id` passed: cut what still runs on that pool. */
export interface DestroyDetachedMessage {
  readonly type: 'destroy-detached'
  readonly id: number
}

/** Stop accepting, finish in-flight requests within `graceMs`, send a last report, exit 0. */
export interface StopMessage {
  readonly type: 'stop'
  readonly graceMs: number
}

export type ToWorker = SnapshotMessage | DetachMessage | DestroyDetachedMessage | StopMessage

// Worker → primary.

/** The worker is ready for its first snapshot. */
export interface HelloMessage {
  readonly type: 'hello'
}

/** The worker's listeners are open (it had its snapshot first). */
export interface ListeningMessage {
  readonly type: 'listening'
  readonly listeners: readonly { readonly service: string; readonly host: string; readonly port: number }[]
}

/** Partial failure counts by kind (only kinds that changed). */
export type FailureCounts = Partial<Record<FailureKind, number>>

/** One instance as one worker sees it: current values, and deltas since the last report. */
export interface UpstreamReport {
  readonly service: string
  readonly key: string
  readonly inflight: number
  readonly consecutiveFailures: number
  readonly consecutive5xx: number
  readonly responses: number
  readonly failures: FailureCounts
}

/** Deltas of one group's GroupStats since the last report. */
export interface GroupReport {
  readonly service: string
  readonly group: string
  /** Flat pairs: status code, count. */
  readonly statuses: readonly number[]
  /** Flat pairs: duration bucket index, count. */
  readonly durations: readonly number[]
  readonly durationSum: number
  readonly durationCount: number
  readonly upstreamErrors: FailureCounts
  readonly retries: number
}

/** Requests still queued or running on the worker's pool of detach `id`; `closed` once it is empty and closed. */
export interface DetachedReport {
  readonly id: number
  readonly running: number
  readonly closed: boolean
}

/** Sent every ~250 ms when something changed, and once more before the worker exits. */
export interface ReportMessage {
  readonly type: 'report'
  readonly upstreams: readonly UpstreamReport[]
  readonly groups: readonly GroupReport[]
  readonly detached: readonly DetachedReport[]
}

/** A failed attempt, sent at once so health can eject on it (totals follow in the next report). */
export interface FailureMessage {
  readonly type: 'failure'
  readonly service: string
  readonly key: string
  readonly kind: FailureKind
  readonly consecutiveFailures: number
}

/** The worker cannot run (bad config, listen error); it exits 1 after sending this. */
export interface FatalMessage {
  readonly type: 'fatal'
  readonly message: string
}

export type FromWorker = HelloMessage | ListeningMessage | ReportMessage | FailureMessage | FatalMessage

const TO_WORKER = new Set<string>(['snapshot', 'detach', 'destroy-detached', 'stop'])
const FROM_WORKER = new Set<string>(['hello', 'listening', 'report', 'failure', 'fatal'])

function typeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' ? type : undefined
}

/** Whether an IPC message is one of ours for a worker (both ends run the same build). */
export function isToWorker(value: unknown): value is ToWorker {
  return TO_WORKER.has(typeOf(value) ?? '')
}

export function isFromWorker(value: unknown): value is FromWorker {
  return FROM_WORKER.has(typeOf(value) ?? '')
}

/** A known instance: which service and group it belongs to (ControlPlane.knownUpstreams()). */
export interface KnownUpstream {
  readonly service: string
  readonly group: string
  readonly upstream: Upstream
}

function endpointOf({ endpoint }: Upstream): EndpointMessage {
  return { host: endpoint.host, port: endpoint.port }
}

/**
 * The services of a snapshot as plain data, the revision apart (so equal routing compares equal):
 * per group its weight, its live instances and the known ones that are not live.
 */
export function snapshotServices(table: RouteTable<Upstream>, known: Iterable<KnownUpstream>): ServiceSnapshot[] {
  const standby = new Map<string, EndpointMessage[]>()
  const live = new Set<Upstream>()
  for (const service of table.services) for (const group of service.groups) for (const upstream of group.instances) live.add(upstream)
  for (const { service, group, upstream } of known) {
    if (live.has(upstream)) continue
    const key = `${service}|${group}`
    const list = standby.get(key)
    if (list === undefined) standby.set(key, [endpointOf(upstream)])
    else list.push(endpointOf(upstream))
  }
  return table.services.map((service) => ({
    name: service.name,
    groups: service.groups.map((group) => ({
      name: group.name,
      weight: group.weight,
      instances: group.instances.map(endpointOf),
      standby: standby.get(`${service.name}|${group.name}`) ?? [],
    })),
  }))
}

/**
 * What must match between the primary's config and a worker's: services, their listen addresses
 * and groups. Workers read the config file themselves, so an edit after the start shows up here.
 */
export function layoutOf(config: Config): string {
  return JSON.stringify(
    config.services.map((service) => [service.name, service.listen.host, service.listen.port, service.groups.map((group) => group.name)]),
  )
}

/** Env vars the primary passes to each worker. */
export const WORKER_ENV = {
  /** Absolute path of the config file. */
  config: 'ZDD_WORKER_CONFIG',
  /** `layoutOf()` of the config the primary loaded. */
  layout: 'ZDD_WORKER_LAYOUT',
} as const
