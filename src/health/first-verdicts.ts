import type { Logger } from '../support/log.js'
import type { InstanceSource } from './ports.js'
import type { HealthRecord } from './record.js'
import { isLive } from './status.js'

/**
 * How long a start or a reload waits for the first health and readiness results of the instances
 * it found, so the first requests do not find every instance still unchecked (and get 503).
 */
const FIRST_CHECKS_WAIT_MS = 5_000

/** An instance whose checks have all spoken once (one without checks is judged at once). */
function judged(record: HealthRecord): boolean {
  return record.reported.size >= record.service.healthChecks.length && (record.service.readinessChecks.length === 0 || record.readiedOnce)
}

/**
 * The wait for the first verdicts that a start and a reload do before they open listeners. It
 * reads the monitor's records as they change; the monitor calls `reported()` after every result.
 */
export class FirstVerdicts {
  /** Callers of wait() waiting for every known instance's first check results. */
  readonly #waiters = new Set<() => void>()

  constructor(
    /** The monitor's records of each service (kept up to date by the monitor). */
    private readonly byService: ReadonlyMap<string, ReadonlySet<HealthRecord>>,
    private readonly instances: InstanceSource,
    private readonly logger: Logger,
  ) {}

  /** Waits for the first verdicts (at most FIRST_CHECKS_WAIT_MS), warning about the instances still unchecked then. */
  async settle(): Promise<void> {
    const unjudged = await this.wait(FIRST_CHECKS_WAIT_MS)
    if (unjudged.length > 0) {
      this.logger.warn({ event: 'first_checks_pending', instances: unjudged }, 'opening the listeners before every instance answered its first checks')
    }
  }

  /**
   * Resolves once every group with weight has a live instance or has all its instances judged (each
   * health check answered once, readiness passed once), or after `limitMs`. Names the instances
   * still unjudged at the limit.
   */
  wait(limitMs: number): Promise<readonly string[]> {
    const waiting = () => this.#unjudgedInUnservedGroups()
    if (waiting().length === 0) return Promise.resolve([])
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve(waiting().map((record) => record.instance.address))
      }
      const check = () => {
        if (waiting().length === 0) done()
      }
      // Not unref'd: the start awaits this, and the checks' own timers are (they would let the process exit).
      const timer = setTimeout(done, limitMs)
      this.#waiters.add(check)
    })
  }

  /** A check reported (or readiness passed): the waiters look again. */
  reported(): void {
    for (const waiter of this.#waiters) waiter()
  }

  #unjudgedInUnservedGroups(): HealthRecord[] {
    const waiting: HealthRecord[] = []
    for (const [service, records] of this.byService) {
      const weights = this.instances.weightsOf(service)
      const served = new Set<string>()
      for (const record of records) if (isLive(record.health)) served.add(record.instance.group)
      for (const record of records) {
        const group = record.instance.group
        if ((weights[group] ?? 0) > 0 && !served.has(group) && !judged(record)) waiting.push(record)
      }
    }
    return waiting
  }
}
