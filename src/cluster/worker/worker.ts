import cluster from 'node:cluster'
import type { Certificates } from '../../config/certificates.js'
import type { Config } from '../../config/types.js'
import { DataPlane } from '../../proxy/data-plane.js'
import { createLogger, type Logger } from '../../support/log.js'
import type { OutcomeSink } from '../../upstream/outcomes.js'
import { isToWorker, type ConfigMessage, type FromWorker, type ToWorker } from '../messages.js'
import { ReportBuilder } from './reports.js'
import { longestDrainMs } from '../../config/drain.js'

/** How often a worker reports what changed. */
const REPORT_MS = 250

function send(message: FromWorker, done?: () => void): void {
  if (!process.connected) {
    done?.()
    return
  }
  process.send!(message, undefined, {}, () => done?.())
}

/** A worker's outcome sink: failures go to the primary's health at once; 5xx streaks ride the reports. */
const toPrimary: OutcomeSink = {
  attemptFailed: (instance, kind, inARow) => send({ type: 'failure', instance, kind, inARow }),
  answered5xx: () => {},
}

/**
 * One worker process of `serve --workers N`: a DataPlane, the same as a single process runs, fed
 * the specs the primary pushes (it opens its listeners only after the first), reporting load,
 * failures and counters back. The control side (discovery, health, admin, state) runs once, in the
 * primary.
 */
export class ClusterWorker {
  readonly #logger: Logger
  readonly #dataPlane: DataPlane
  readonly #reports: ReportBuilder
  readonly #detached = new Map<number, () => void>()
  readonly #timer: NodeJS.Timeout
  #listening: Promise<void> | undefined
  #config: Config
  #stopping = false

  constructor(config: Config, certificates: Certificates, logger: Logger) {
    this.#logger = logger
    this.#config = config
    this.#dataPlane = new DataPlane(config, { outcomes: toPrimary, logger, certificates })
    this.#reports = new ReportBuilder(this.#dataPlane)
    this.#timer = setInterval(() => this.#report(), REPORT_MS)
    this.#timer.unref()
  }

  /** Handles one message from the primary. */
  handle(message: ToWorker): void {
    switch (message.type) {
      case 'config':
        this.#config = message.config
        this.#dataPlane.reconfigure(message.config, message.certificates)
        return
      case 'listen':
        void this.#relisten()
        return
      case 'snapshot':
        this.#dataPlane.apply(message.spec)
        if (!this.#stopping) this.#listening ??= this.#listen()
        return
      case 'detach': {
        const detached = this.#dataPlane.detach(message.instance)
        this.#detached.set(message.id, detached.destroy)
        void detached.closed.then(() => this.#detached.delete(message.id))
        this.#reports.trackDetached(message.id, detached)
        return
      }
      case 'destroy-detached':
        this.#detached.get(message.id)?.()
        return
      case 'stop':
        void this.stop(message.graceMs)
    }
  }

  async #listen(): Promise<void> {
    let listeners
    try {
      listeners = await this.#dataPlane.start()
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
      return
    }
    if (!this.#stopping) send({ type: 'listening', listeners })
  }

  /** A reload's listeners; a failure (a port taken meanwhile) is logged, the others keep serving. */
  async #relisten(): Promise<void> {
    await this.#listening?.catch(() => {})
    if (this.#stopping) return
    let listeners
    try {
      listeners = await this.#dataPlane.listen()
    } catch (error) {
      this.#logger.error({ event: 'listen_failed', err: error instanceof Error ? error.message : String(error) }, 'a listener of the reloaded config cannot open')
      listeners = this.#dataPlane.listening()
    }
    if (!this.#stopping) send({ type: 'listening', listeners })
  }

  /** The longest drainSeconds of the config in force, in ms. */
  get graceMs(): number {
    return longestDrainMs(this.#config.services)
  }

  #report(done?: () => void): void {
    const report = this.#reports.build()
    if (report === undefined) done?.()
    else send(report, done)
  }

  /** Stops accepting (the primary routes new connections elsewhere), lets in-flight requests finish, exits. */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.#logger.info({ event: 'worker_stopping', graceMs }, 'worker stopping: finishing in-flight requests')
    await this.#listening?.catch(() => {})
    await this.#dataPlane.stop(graceMs)
    clearInterval(this.#timer)
    // The last counts reach the primary before the channel closes.
    await new Promise<void>((resolve) => this.#report(resolve))
    this.#logger.info({ event: 'worker_stopped' }, 'worker stopped')
    setTimeout(() => process.exit(0), 5_000).unref()
    if (cluster.worker?.isConnected()) cluster.worker.disconnect()
  }
}

/** Tells the primary why this worker cannot run, then exits 1. */
function fail(message: string): void {
  send({ type: 'fatal', message }, () => process.exit(1))
  setTimeout(() => process.exit(1), 1_000).unref()
}

/** The worker process's entry: see ClusterWorker. */
export async function runWorker(): Promise<void> {
  const logger = createLogger('zdd-proxy').child({ worker: cluster.worker?.id ?? 0 })
  // The primary orchestrates stops, restarts and reloads; a Ctrl-C or hangup reaching the whole
  // process group must not cut this worker's requests.
  process.on('SIGINT', () => {})
  process.on('SIGHUP', () => {})
  process.on('SIGUSR2', () => {})
  const early: ToWorker[] = []
  let worker: ClusterWorker | undefined
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return
    if (worker !== undefined) worker.handle(message)
    else if (message.type === 'config') start(message)
    else early.push(message)
  })
  const start = (message: ConfigMessage) => {
    let running: ClusterWorker
    try {
      running = new ClusterWorker(message.config, message.certificates, logger)
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
      return
    }
    worker = running
    process.on('SIGTERM', () => void running.stop(running.graceMs))
    for (const queued of early.splice(0)) running.handle(queued)
  }
  send({ type: 'hello' })
}
