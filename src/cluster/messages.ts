/**
 * The IPC contract between the cluster primary (control side) and its workers (data planes), as
 * plain JSON messages. The primary pushes snapshot specs and drain orders; workers send back what
 * they saw (load, failures, traffic counters) so health, metrics, status and drains see the sum.
 */
import type { Certificates } from '../config/certificates.js'
import type { Config } from '../config/types.js'
import type { SnapshotSpec } from '../routing/spec.js'
import type { InstanceId } from '../upstream/instance.js'
import type { FailureKind } from '../upstream/outcomes.js'

// Primary → worker.

/**
 * The config the worker serves, with the certificates it names (read and checked by the primary):
 * the first message after hello, and again at every reload. Workers never read the config file,
 * so all of them serve exactly what the primary loaded.
 */
export interface ConfigMessage {
  readonly type: 'config'
  readonly config: Config
  readonly certificates: Certificates
}

/** A reload's listeners: make them match the config, then answer `listening`. */
export interface ListenMessage {
  readonly type: 'listen'
}

/** A new snapshot spec: sent when routing changed, and to each worker once it says hello. */
export interface SnapshotMessage {
  readonly type: 'snapshot'
  readonly spec: SnapshotSpec
}

/** A cut-over drains `instance`: move it to fresh connections and report the old ones as detach `id`. */
export interface DetachMessage {
  readonly type: 'detach'
  readonly id: number
  readonly instance: InstanceId
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

export type ToWorker = ConfigMessage | ListenMessage | SnapshotMessage | DetachMessage | DestroyDetachedMessage | StopMessage

// Worker → primary.

/** The worker is ready for its first snapshot. */
export interface HelloMessage {
  readonly type: 'hello'
}

/** The worker's listeners are open (it had its snapshot first); sent again after each `listen`. */
export interface ListeningMessage {
  readonly type: 'listening'
  readonly listeners: readonly { readonly service: string; readonly host: string; readonly port: number }[]
}

/** Partial failure counts by kind (only kinds that changed). */
export type FailureCounts = Partial<Record<FailureKind, number>>

/** One instance as one worker sees it now (sent when a value changed). */
export interface InstanceReport {
  readonly instance: InstanceId
  readonly inflight: number
  readonly failuresInARow: number
  readonly fivexxInARow: number
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
  /** Requests redispatched to another group since the last report, by that group's name. */
  readonly redispatched: Readonly<Record<string, number>>
  /** Distinct clients answered since the last report: the sketch's registers in base64, when any. */
  readonly clients?: string
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
  readonly instances: readonly InstanceReport[]
  readonly groups: readonly GroupReport[]
  readonly detached: readonly DetachedReport[]
}

/** A failed attempt, sent at once so health can eject on it. */
export interface FailureMessage {
  readonly type: 'failure'
  readonly instance: InstanceId
  readonly kind: FailureKind
  readonly inARow: number
}

/** The worker cannot run (bad config, listen error); it exits 1 after sending this. */
export interface FatalMessage {
  readonly type: 'fatal'
  readonly message: string
}

export type FromWorker = HelloMessage | ListeningMessage | ReportMessage | FailureMessage | FatalMessage

const TO_WORKER = new Set<string>(['config', 'listen', 'snapshot', 'detach', 'destroy-detached', 'stop'])
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
