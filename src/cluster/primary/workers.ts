import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { Certificates } from '../../config/certificates.js'
import type { Config } from '../../config/types.js'
import type { DataSide } from '../../main.js'
import type { SnapshotSpec } from '../../routing/spec.js'
import type { Logger } from '../../support/log.js'
import type { InstanceId } from '../../upstream/instance.js'
import type { OutcomeSink } from '../../upstream/outcomes.js'
import type { DetachedPool } from '../../upstream/pools.js'
import type { StatsRegistry } from '../../upstream/stats.js'
import type { ConfigMessage, FromWorker, ListeningMessage, SnapshotMessage } from '../messages.js'
import { RespawnBackoff } from './backoff.js'
import { WorkerFacts } from './facts.js'
import { forkWorker, sendToWorker, stopWorker, type WorkerRecord } from './forked-worker.js'
import { RemoteDrains } from './remote-drains.js'
import { longestDrainMs } from '../../config/drain.js'

const WORKER_ENTRY = fileURLToPath(new URL('../worker/entry.js', import.meta.url))
/** How long a reload waits for each worker to open and close its listeners. */
const LISTEN_TIMEOUT_MS = 10_000

export interface WorkerPoolOptions {
  readonly workers: number
  /** How long a stopping worker may take to finish its requests. */
  readonly graceMs: number
}

/**
 * The data side of `serve --workers N`, as the primary runs it (node:cluster, round-robin: the
 * primary owns each listening socket and hands connections to workers that listen on it). Pushes
 * every changed spec to every worker, sums their reports for the control side (WorkerFacts), drains
 * across them (RemoteDrains), replaces workers that die, and restarts them one at a time without
 * ever leaving the sockets without a listening worker. It holds no connection pool itself.
 */
export class WorkerPool implements DataSide {
  readonly #records = new Map<number, WorkerRecord>()
  readonly #facts: WorkerFacts
  readonly #drains: RemoteDrains
  readonly #backoff = new RespawnBackoff()
  readonly #respawns = new Set<NodeJS.Timeout>()
  #snapshot: SnapshotMessage | undefined
  #configMessage: ConfigMessage
  /** How long a worker a rolling restart stops may take (the config's longest drainSeconds). */
  #graceMs: number
  #servicesText = ''
  #listening: ListeningMessage['listeners'] | undefined
  #restarting: Promise<void> | undefined
  #restartAgain = false
  #stopping = false

  constructor(
    config: Config,
    certificates: Certificates,
    private readonly logger: Logger,
    outcomes: OutcomeSink,
    private readonly options: WorkerPoolOptions,
  ) {
    this.#configMessage = { type: 'config', config, certificates }
    this.#graceMs = options.graceMs
    this.#facts = new WorkerFacts(config, outcomes)
    this.#drains = new RemoteDrains(
      {
        ids: () => [...this.#records.values()].filter((record) => record.hello).map((record) => record.id),
        send: (id, message) => sendToWorker(this.#records.get(id), message),
      },
      this.#facts,
    )
  }

  get stats(): StatsRegistry {
    return this.#facts.stats
  }

  inflightOf(id: InstanceId): number {
    return this.#facts.inflightOf(id)
  }

  detach(id: InstanceId): DetachedPool {
    return this.#drains.detach(id)
  }

  /** Pushes `spec` to every worker, unless its routing equals the last one's (a health change that moved nothing). */
  apply(spec: SnapshotSpec): void {
    this.#facts.onSpec(spec)
    const text = JSON.stringify(spec.services)
    if (text === this.#servicesText) return
    this.#servicesText = text
    this.#snapshot = { type: 'snapshot', spec }
    for (const record of this.#records.values()) if (record.hello) sendToWorker(record, this.#snapshot)
  }

  /** A reload: every worker (and every later one) gets the config; listeners change at `listen()`. */
  reconfigure(config: Config, certificates: Certificates): void {
    this.#graceMs = longestDrainMs(config.services)
    this.#facts.stats.reconfigure(config)
    this.#configMessage = { type: 'config', config, certificates }
    for (const record of this.#records.values()) if (record.hello) sendToWorker(record, this.#configMessage)
  }

  /** A reload's listeners: every listening worker opens and closes its own; resolves once all did (bounded). */
  async listen(): Promise<ListeningMessage['listeners']> {
    const waits: Promise<void>[] = []
    for (const record of this.#records.values()) {
      if (!record.listening || record.stopping) continue
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, LISTEN_TIMEOUT_MS)
          timer.unref()
          record.onListening.push(() => {
            clearTimeout(timer)
            resolve()
          })
          void record.exited.then(resolve)
        }),
      )
      sendToWorker(record, { type: 'listen' })
    }
    await Promise.all(waits)
    return this.#listening ?? []
  }

  /** Forks the workers; resolves with the listeners once the first one listens. */
  async start(): Promise<ListeningMessage['listeners']> {
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [] })
    const records = Array.from({ length: this.options.workers }, () => this.#fork())
    try {
      await Promise.any(records.map((record) => record.ready))
    } catch {
      const reason = records.map((record) => record.fatal).find((fatal) => fatal !== undefined)
      throw new Error(`no worker could start: ${reason ?? 'every worker exited'}`)
    }
    // Workers that failed before the first one listened are replaced now.
    for (let missing = this.options.workers - this.#active(); missing > 0; missing--) this.#replace()
    void Promise.allSettled(records.map((record) => record.ready)).then(() => {
      if (this.#stopping) return
      const pids = [...this.#records.values()].filter((record) => record.listening).map((record) => record.pid)
      this.logger.info({ event: 'workers_ready', workers: pids.length, pids }, `${pids.length} workers listening`)
    })
    return this.#listening!
  }

  /** Replaces every worker, one at a time: the new one listens before the old one stops. */
  restart(): Promise<void> {
    if (this.#restarting !== undefined) {
      this.#restartAgain = true
      return this.#restarting
    }
    this.#restarting = this.#rollAll().finally(() => (this.#restarting = undefined))
    return this.#restarting
  }

  /** Stops every worker gracefully (in-flight requests finish within `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true
    for (const timer of this.#respawns) clearTimeout(timer)
    this.#respawns.clear()
    await Promise.all([...this.#records.values()].map((record) => stopWorker(record, graceMs)))
  }

  async #rollAll(): Promise<void> {
    do {
      this.#restartAgain = false
      const old = [...this.#records.values()].filter((record) => !record.stopping)
      this.logger.info({ event: 'workers_restarting', pids: old.map((record) => record.pid) }, 'restarting workers one at a time')
      for (const record of old) {
        if (this.#stopping) return
        if (!this.#records.has(record.id)) continue
        const fresh = this.#fork()
        try {
          await fresh.ready
        } catch (error) {
          if (this.#stopping) return
          this.logger.error({ event: 'workers_restart_failed', err: error }, 'a new worker did not start; keeping the others')
          return
        }
        await stopWorker(record, this.#graceMs)
      }
      const pids = [...this.#records.values()].map((record) => record.pid)
      this.logger.info({ event: 'workers_restarted', pids }, 'workers restarted')
    } while (this.#restartAgain && !this.#stopping)
  }

  #fork(): WorkerRecord {
    const record = forkWorker(
      {
        onListening: (forked, message) => this.#onListening(forked, message),
        onMessage: (forked, message) => this.#onMessage(forked, message),
        onExit: (forked, code, signal) => this.#onExit(forked, code, signal),
      },
      this.logger,
    )
    this.#records.set(record.id, record)
    return record
  }

  #onMessage(record: WorkerRecord, message: Exclude<FromWorker, ListeningMessage>): void {
    switch (message.type) {
      case 'hello':
        record.hello = true
        sendToWorker(record, this.#configMessage)
        if (this.#snapshot !== undefined) sendToWorker(record, this.#snapshot)
        return
      case 'report':
        this.#facts.apply(record.id, message)
        this.#drains.apply(record.id, message.detached)
        return
      case 'failure':
        this.#facts.applyFailure(record.id, message)
        return
      case 'fatal':
        record.fatal = message.message
        this.logger.error({ event: 'worker_failed', worker: record.id, workerPid: record.pid, reason: message.message }, 'worker cannot run')
    }
  }

  #onListening(record: WorkerRecord, message: ListeningMessage): void {
    record.listening = true
    if (this.#listening === undefined) {
      // The first worker to listen opened the sockets: the proxy announces them once, as a single process does.
      this.#listening = message.listeners
    } else {
      for (const { service, port } of message.listeners) {
        const before = this.#listening.find((listener) => listener.service === service)?.port
        if (before === port) continue
        // Only when every worker was gone at once and port 0 was bound anew.
        this.logger.warn({ event: 'listening_port_changed', service, port, before }, 'listen port changed')
      }
      this.#listening = message.listeners
    }
    this.logger.info({ event: 'worker_listening', worker: record.id, workerPid: record.pid }, 'worker listening')
    for (const resolve of record.onListening.splice(0)) resolve()
  }

  #onExit(record: WorkerRecord, code: number | null, signal: string | null): void {
    this.#records.delete(record.id)
    this.#facts.forgetWorker(record.id)
    this.#drains.forgetWorker(record.id)
    const fields = { event: 'worker_exited', worker: record.id, workerPid: record.pid, code, signal }
    if (record.stopping || this.#stopping) {
      this.logger.info(fields, 'worker exited')
      return
    }
    // Until a worker listens, start() decides; from then on the pool is kept at N workers.
    if (this.#listening === undefined || this.#active() >= this.options.workers) {
      this.logger.warn(fields, 'worker exited unexpectedly')
      return
    }
    this.logger.warn({ ...fields, respawnInMs: this.#replace() }, 'worker exited unexpectedly; replacing it')
  }

  /** Workers not asked to stop. */
  #active(): number {
    let count = 0
    for (const record of this.#records.values()) if (!record.stopping) count++
    return count
  }

  /** Forks a replacement after the backoff; returns the delay. */
  #replace(): number {
    const delayMs = this.#backoff.next(Date.now())
    const timer = setTimeout(() => {
      this.#respawns.delete(timer)
      if (!this.#stopping) this.#fork()
    }, delayMs)
    this.#respawns.add(timer)
    return delayMs
  }
}
