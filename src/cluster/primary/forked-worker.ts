import cluster, { type Worker } from 'node:cluster'
import type { Logger } from '../../support/log.js'
import { isFromWorker, type FromWorker, type ListeningMessage, type ToWorker } from '../messages.js'

/** A new worker that has not opened its listeners by then is given up. */
const START_TIMEOUT_MS = 30_000
/** A stopping worker gets its grace time plus this before SIGKILL. */
const STOP_MARGIN_MS = 5_000

/** One forked worker as the primary tracks it, from fork to exit. */
export interface WorkerRecord {
  readonly worker: Worker
  readonly id: number
  readonly pid: number
  hello: boolean
  listening: boolean
  /** Asked to stop by the primary (restart or shutdown): its exit is expected. */
  stopping: boolean
  fatal: string | undefined
  /** Resolves once its listeners are open; rejects if it exits first. */
  readonly ready: Promise<void>
  readonly exited: Promise<void>
  /** Called at its next `listening` (a reload waits for it). */
  readonly onListening: (() => void)[]
}

/** What the pool does when a worker it forked speaks or exits. */
export interface WorkerEvents {
  /** The worker opened its listeners (at start, and after each `listen`). */
  readonly onListening: (record: WorkerRecord, message: ListeningMessage) => void
  readonly onMessage: (record: WorkerRecord, message: Exclude<FromWorker, ListeningMessage>) => void
  readonly onExit: (record: WorkerRecord, code: number | null, signal: string | null) => void
}

/**
 * Forks one worker (cluster.setupPrimary must have named the entry) and wires its messages and
 * exit to `events`. One that does not listen within the start timeout is killed.
 */
export function forkWorker(events: WorkerEvents, logger: Logger): WorkerRecord {
  const worker = cluster.fork()
  let markReady!: () => void
  let markFailed!: (error: Error) => void
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    markFailed = reject
  })
  ready.catch(() => {})
  const record: WorkerRecord = {
    worker,
    id: worker.id,
    pid: worker.process.pid ?? 0,
    hello: false,
    listening: false,
    stopping: false,
    fatal: undefined,
    ready,
    exited: new Promise((resolve) => worker.once('exit', () => resolve())),
    onListening: [],
  }
  const timer = setTimeout(() => {
    if (record.listening) return
    markFailed(new Error(`worker ${record.id} did not listen within ${START_TIMEOUT_MS / 1000} s`))
    worker.process.kill('SIGKILL')
  }, START_TIMEOUT_MS)
  timer.unref()
  worker.on('message', (message: unknown) => {
    if (!isFromWorker(message)) return
    if (message.type === 'listening') {
      clearTimeout(timer)
      events.onListening(record, message)
      markReady()
    } else events.onMessage(record, message)
  })
  // A send racing with the worker's exit fails; the exit handler deals with the worker.
  worker.on('error', () => {})
  worker.once('exit', (code, signal) => {
    clearTimeout(timer)
    markFailed(new Error(record.fatal ?? `worker ${record.id} exited (${signal ?? code})`))
    events.onExit(record, code, signal)
  })
  logger.info({ event: 'worker_started', worker: record.id, workerPid: record.pid }, 'worker started')
  return record
}

/** Asks a worker to stop (its requests finish within `graceMs`); kills it if it outlasts that. */
export async function stopWorker(record: WorkerRecord, graceMs: number): Promise<void> {
  record.stopping = true
  // Before its hello the worker may not hear messages yet; it has no requests either.
  if (record.hello) sendToWorker(record, { type: 'stop', graceMs })
  else record.worker.process.kill('SIGTERM')
  const timer = setTimeout(() => record.worker.process.kill('SIGKILL'), graceMs + STOP_MARGIN_MS)
  timer.unref()
  await record.exited
  clearTimeout(timer)
}

/** Sends `message` to a worker still connected; to a gone one (or none) it is dropped. */
export function sendToWorker(record: WorkerRecord | undefined, message: ToWorker): void {
  if (record === undefined || !record.worker.isConnected()) return
  record.worker.send(message, undefined, {}, () => {})
}
