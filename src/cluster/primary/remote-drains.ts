import type { InstanceId } from '../../upstream/instance.js'
import type { DetachedPool } from '../../upstream/pools.js'
import type { DetachedReport, ToWorker } from '../messages.js'
import type { WorkerFacts } from './facts.js'

/** What remote drains need of the running workers. */
export interface WorkerChannel {
  /** Workers that have their snapshot (and so may have requests on an instance). */
  ids(): Iterable<number>
  send(worker: number, message: ToWorker): void
}

interface RemoteDrain {
  /** Requests still running on each told worker's detached pool. */
  readonly running: Map<number, number>
  readonly done: () => void
}

/**
 * A cut-over's drain across the workers. Each worker detaches its own pool of the instance and
 * reports what still runs there until it is closed; the drain is over when every told worker's
 * pool is closed (or the worker is gone). The handle it returns is what a single process's data
 * plane returns for its own pool, so the control side's DrainTracker cannot tell them apart.
 */
export class RemoteDrains {
  readonly #drains = new Map<number, RemoteDrain>()
  #nextId = 0

  constructor(
    private readonly workers: WorkerChannel,
    private readonly facts: Pick<WorkerFacts, 'inflightIn'>,
  ) {}

  detach(instance: InstanceId): DetachedPool {
    const id = ++this.#nextId
    const running = new Map<number, number>()
    for (const worker of this.workers.ids()) {
      this.workers.send(worker, { type: 'detach', id, instance })
      // Until the worker reports its detached pool, its load on the instance is what runs there.
      running.set(worker, this.facts.inflightIn(worker, instance))
    }
    let done!: () => void
    const closed = new Promise<void>((resolve) => (done = resolve))
    if (running.size === 0) done()
    else this.#drains.set(id, { running, done })
    return {
      closed,
      running: () => {
        let total = 0
        for (const count of running.values()) total += count
        return total
      },
      destroy: () => {
        for (const worker of running.keys()) this.workers.send(worker, { type: 'destroy-detached', id })
      },
    }
  }

  /** Applies one worker's detached-pool reports. */
  apply(worker: number, reports: readonly DetachedReport[]): void {
    for (const report of reports) {
      const drain = this.#drains.get(report.id)
      if (drain === undefined || !drain.running.has(worker)) continue
      if (report.closed) drain.running.delete(worker)
      else drain.running.set(worker, report.running)
      this.#settle(report.id, drain)
    }
  }

  /** A worker exited: whatever ran on its pools has ended. */
  forgetWorker(worker: number): void {
    for (const [id, drain] of this.#drains) {
      if (drain.running.delete(worker)) this.#settle(id, drain)
    }
  }

  #settle(id: number, drain: RemoteDrain): void {
    if (drain.running.size > 0) return
    this.#drains.delete(id)
    drain.done()
  }
}
