import type { ServiceConfig } from '../config/types.js'
import type { InstanceAddress } from '../discovery/types.js'
import { healthOutcome, healthProbeTarget, readinessOutcome, readinessProbeTarget, type ProbeResult, type ProbeTarget } from './active.js'
import type { CheckOutcome } from './status.js'

/** What the checks of one instance need from their owner. */
export interface CheckEnvironment {
  /** Monotonic clock in ms. */
  readonly now: () => number
  readonly probe: (target: ProbeTarget, signal: AbortSignal) => Promise<ProbeResult>
  /** Aborted on shutdown: probes in flight end at once. */
  readonly signal: AbortSignal
}

/** Where results go. */
export interface CheckReports {
  /** One health check (by config index) ended with `outcome`. */
  health(index: number, outcome: CheckOutcome, detail: string): void
  /** Every readiness check has passed once; the last one passed with `detail`. */
  ready(name: string, detail: string): void
}

/**
 * The active checks of one instance (Marathon's timing): each readiness check at once and then
 * every intervalSeconds until it passes; each health check after delaySeconds and then every
 * intervalSeconds for as long as the instance is known. A check never overlaps itself: the next
 * one starts intervalSeconds after the previous started, or when it ended if that took longer.
 * Timers are unref'd and cleared by stop().
 */
export class InstanceChecks {
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #readinessPassed: boolean[]
  #stopped = false

  constructor(
    readonly address: InstanceAddress,
    readonly service: ServiceConfig,
    private readonly env: CheckEnvironment,
    private readonly reports: CheckReports,
  ) {
    this.#readinessPassed = service.readinessChecks.map(() => false)
  }

  /** Starts the checks; `skipDelay` runs the first health checks at once (instances of unknown age). */
  start(skipDelay = false): void {
    this.service.readinessChecks.forEach((_check, index) => this.#schedule(0, () => this.#runReadiness(index)))
    this.service.healthChecks.forEach((check, index) =>
      this.#schedule(skipDelay ? 0 : check.delaySeconds * 1000, () => this.#runHealth(index)),
    )
  }

  stop(): void {
    this.#stopped = true
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }

  /** Runs `run` after `delayMs` unless stopped by then (also used for slow-start steps). */
  schedule(delayMs: number, run: () => unknown): void {
    this.#schedule(delayMs, run)
  }

  async #runHealth(index: number): Promise<void> {
    const check = this.service.healthChecks[index]!
    const started = this.env.now()
    const result = await this.env.probe(healthProbeTarget(this.address, check), this.env.signal)
    if (this.#stopped) return
    const { outcome, detail } = healthOutcome(result, check.ignoreHttp1xx)
    this.reports.health(index, outcome, detail)
    this.#schedule(this.#untilNext(started, check.intervalSeconds), () => this.#runHealth(index))
  }

  async #runReadiness(index: number): Promise<void> {
    const check = this.service.readinessChecks[index]!
    const started = this.env.now()
    const result = await this.env.probe(readinessProbeTarget(this.address, check), this.env.signal)
    if (this.#stopped) return
    const { ready, detail } = readinessOutcome(result, check.httpStatusCodesForReady)
    if (!ready) {
      this.#schedule(this.#untilNext(started, check.intervalSeconds), () => this.#runReadiness(index))
      return
    }
    // Once ready, an instance stays ready: readiness gates only its start.
    this.#readinessPassed[index] = true
    if (this.#readinessPassed.every(Boolean)) this.reports.ready(check.name, detail)
  }

  #untilNext(started: number, intervalSeconds: number): number {
    return Math.max(0, started + intervalSeconds * 1000 - this.env.now())
  }

  #schedule(delayMs: number, run: () => unknown): void {
    if (this.#stopped) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void run()
    }, delayMs)
    timer.unref()
    this.#timers.add(timer)
  }
}
