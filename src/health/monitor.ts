import { performance } from 'node:perf_hooks'
import type { ServiceConfig } from '../config/types.js'
import type { EventBus } from '../support/events.js'
import type { Logger } from '../support/log.js'
import type { InstanceId, KnownInstance } from '../upstream/instance.js'
import type { FailureKind, OutcomeSink } from '../upstream/outcomes.js'
import { probe, type ProbeResult, type ProbeTarget } from './active.js'
import { InstanceChecks, type CheckEnvironment } from './checks.js'
import { FirstVerdicts } from './first-verdicts.js'
import { OutlierEjection } from './outlier-ejection.js'
import type { InstanceSource, VerdictSink } from './ports.js'
import { nextRampStepMs, slowStartWeight } from './ramp.js'
import { fieldsOf, type HealthRecord } from './record.js'
import { applyCheckOutcome, deriveState, initialFacts, isLive, markDraining, markReady, type CheckOutcome, type InstanceFacts } from './status.js'

const FRESH_CHECK = Object.freeze({ passedOnce: false, failures: 0, failing: false })
const PASSED_CHECK = Object.freeze({ passedOnce: true, failures: 0, failing: false })

/** What health is connected to. */
export interface HealthPorts {
  readonly instances: InstanceSource
  readonly verdicts: VerdictSink
  /** Where `health_changed` events go. */
  readonly events: EventBus
}

export interface HealthMonitorOptions {
  /** Monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number
  /** Runs one probe (default: a real HTTP/TCP probe). */
  readonly probe?: (target: ProbeTarget, signal: AbortSignal) => Promise<ProbeResult>
  /** How often ejections whose time is over are ended (default 250 ms). */
  readonly sweepMs?: number
}

/**
 * Health, readiness and passive outlier ejection for every known instance. It owns each instance's
 * state (see types.ts), runs the active checks on unref'd timers, hears failures and 5xx streaks
 * from the data planes (as their OutcomeSink), and hands each verdict to its VerdictSink. Every
 * transition becomes a `health_changed` event and a log line.
 */
export class HealthMonitor implements OutcomeSink {
  readonly #records = new Map<InstanceId, HealthRecord>()
  /** The records of each service, for the panic guard's census and the first verdicts. */
  readonly #byService = new Map<string, Set<HealthRecord>>()
  #services: ReadonlyMap<string, ServiceConfig>
  readonly #now: () => number
  /** Aborted by stop(): probes in flight close their sockets at once. */
  readonly #abort = new AbortController()
  readonly #checkEnvironment: CheckEnvironment
  readonly #sweepMs: number
  #sweepTimer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #startingUp = true
  #stopped = false
  /** The wait of a start or a reload for the first verdicts. */
  readonly #firstVerdicts: FirstVerdicts
  /** Passive ejection, on what the data planes report, and its sweep. */
  readonly #ejection: OutlierEjection

  constructor(
    services: readonly ServiceConfig[],
    private readonly ports: HealthPorts,
    private readonly logger: Logger,
    options: HealthMonitorOptions = {},
  ) {
    this.#services = new Map(services.map((service) => [service.name, service]))
    this.#now = options.now ?? (() => performance.now())
    this.#sweepMs = options.sweepMs ?? 250
    this.#checkEnvironment = { now: this.#now, probe: options.probe ?? probe, signal: this.#abort.signal }
    this.#firstVerdicts = new FirstVerdicts(this.#byService, ports.instances, logger)
    const update = (record: HealthRecord, facts: InstanceFacts, reason: string) => this.#update(record, facts, reason)
    this.#ejection = new OutlierEjection({ now: this.#now, records: this.#records, byService: this.#byService, instances: ports.instances, logger, update })
  }

  /** Starts following the known instances. Call before discovery reports any, so none is live unchecked. */
  start(): void {
    if (this.#unsubscribe !== undefined || this.#stopped) return
    this.#unsubscribe = this.ports.instances.onKnownChanged((added, removed) => {
      for (const instance of added) this.#add(instance)
      for (const instance of removed) this.#remove(instance.id)
    })
    for (const instance of this.ports.instances.knownInstances()) this.#add(instance)
    this.#sweepTimer = setInterval(this.#ejection.sweep, this.#sweepMs)
    this.#sweepTimer.unref()
  }

  /**
   * Ends the start-up phase: instances found from now on are new tasks and wait `delaySeconds`
   * before their first health check. Instances found while the proxy starts are of unknown age, so
   * they are checked at once; otherwise a restarted proxy would hold all traffic for delaySeconds.
   */
  markStarted(): void {
    this.#startingUp = false
  }

  /**
   * Marks a reload: instances found until `markStarted()` are of unknown age (a backend the file
   * now lists may have run for long), so they are checked at once, as at start.
   */
  markStarting(): void {
    this.#startingUp = true
  }

  /**
   * A reload's services. Instances whose service's checks changed start the new checks at once
   * and keep their standing: a live instance stays live until a new check fails, one that was not
   * live waits for a pass. Ejections carry on. Instances of removed services go with discovery.
   */
  reconfigure(services: readonly ServiceConfig[]): void {
    this.#services = new Map(services.map((service) => [service.name, service]))
    for (const record of this.#records.values()) {
      const service = this.#services.get(record.service.name)
      if (service === undefined) continue
      const before = record.service
      record.service = service
      if (JSON.stringify([before.healthChecks, before.readinessChecks]) === JSON.stringify([service.healthChecks, service.readinessChecks])) continue
      record.checks.stop()
      const live = isLive(record.health)
      const facts: InstanceFacts = {
        ...record.facts,
        readiness: service.readinessChecks.length === 0 ? 'none' : live || record.facts.readiness === 'passed' ? 'passed' : 'pending',
        checks: service.healthChecks.map(() => (live ? PASSED_CHECK : FRESH_CHECK)),
      }
      record.checks = this.#checksOf(record, service)
      // What answered the old checks says nothing about the new ones (firstVerdicts waits on these).
      record.reported.clear()
      if (live) for (let index = 0; index < service.healthChecks.length; index++) record.reported.add(index)
      this.#update(record, facts, 'health checks changed by a reload')
      record.checks.start(true)
    }
  }

  /** Stops every check and timer. */
  stop(): void {
    this.#stopped = true
    this.#abort.abort()
    this.#unsubscribe?.()
    clearInterval(this.#sweepTimer)
    for (const record of this.#records.values()) record.checks.stop()
  }

  /** A failed attempt: enough local failures in a row eject a healthy instance at once. */
  attemptFailed(id: InstanceId, kind: FailureKind, inARow: number): void {
    this.#ejection.attemptFailed(id, kind, inARow)
  }

  /** A 5xx answer: enough of them in a row eject a healthy instance at once. */
  answered5xx(id: InstanceId, inARow: number): void {
    this.#ejection.answered5xx(id, inARow)
  }

  /** An instance left discovery: it drains (announced) and is forgotten. */
  #remove(id: InstanceId): void {
    const record = this.#records.get(id)
    if (record === undefined) return
    record.checks.stop()
    this.#update(record, markDraining(record.facts), 'removed from discovery')
    this.#records.delete(id)
    this.#byService.get(record.service.name)?.delete(record)
  }

  #add(instance: KnownInstance): void {
    const service = this.#services.get(instance.service)
    if (service === undefined || this.#records.has(instance.id) || this.#stopped) return
    const now = this.#now()
    const facts = initialFacts(now, service.readinessChecks.length > 0, service.healthChecks.length)
    const record: HealthRecord = {
      instance,
      service,
      facts,
      checks: undefined as unknown as InstanceChecks,
      health: 'starting',
      liveSinceMs: now,
      guardLogged: false,
      reported: new Set(),
      readiedOnce: false,
    }
    record.checks = this.#checksOf(record, service)
    this.#records.set(instance.id, record)
    let siblings = this.#byService.get(service.name)
    if (siblings === undefined) this.#byService.set(service.name, (siblings = new Set()))
    siblings.add(record)
    // Without checks the facts already say healthy: this announces it.
    this.#update(record, facts, 'no health or readiness checks configured')
    record.checks.start(this.#startingUp)
  }

  #checksOf(record: HealthRecord, service: ServiceConfig): InstanceChecks {
    return new InstanceChecks(record.instance, service, this.#checkEnvironment, {
      health: (index, outcome, detail) => this.#onHealth(record, index, outcome, detail),
      ready: (name, detail) => {
        record.readiedOnce = true
        this.#update(record, markReady(record.facts), `readiness check ${name} passed (${detail})`)
        this.#firstVerdicts.reported()
      },
    })
  }

  #onHealth(record: HealthRecord, index: number, outcome: CheckOutcome, detail: string): void {
    const check = record.service.healthChecks[index]!
    const facts = applyCheckOutcome(record.facts, index, outcome, check, this.#now(), record.service.outlierDetection.unejectOnPassingCheck)
    const failures = facts.checks[index]!.failures
    const reason =
      outcome === 'pass'
        ? `health check passed (${detail})`
        : `health check failed${failures > 1 ? ` ${failures} times in a row` : ''} (${detail})`
    this.#update(record, facts, reason)
    record.reported.add(index)
    this.#firstVerdicts.reported()
  }

  /**
   * Ends the start-up phase (markStarted) and waits for the first verdicts (at most
   * FIRST_CHECKS_WAIT_MS, first-verdicts.ts), warning about the instances still unchecked then:
   * what a start and a reload do before they open listeners.
   */
  async settle(): Promise<void> {
    this.markStarted()
    await this.#firstVerdicts.settle()
  }

  /**
   * Resolves once every group with weight has a live instance or has all its instances judged (each
   * health check answered once, readiness passed once), or after `limitMs`: the proxy opens its
   * listeners then, so its first requests do not find a group whose instances are up but unchecked
   * (503). Names the instances still unjudged at the limit.
   */
  firstVerdicts(limitMs: number): Promise<readonly string[]> {
    return this.#firstVerdicts.wait(limitMs)
  }

  /** Stores new facts; on a change of state announces it and hands the new verdict on. */
  #update(record: HealthRecord, facts: InstanceFacts, reason: string): void {
    record.facts = facts
    const from = record.health
    const to = deriveState(facts)
    if (to === from) return
    record.health = to
    record.guardLogged = false
    if (isLive(to) && !isLive(from)) {
      record.liveSinceMs = this.#now()
      this.#scheduleRamp(record)
    }
    const fields = { ...fieldsOf(record), from, to, reason }
    if (to === 'unhealthy' || to === 'ejected') this.logger.warn({ event: 'health_changed', ...fields }, 'instance state changed')
    else this.logger.info({ event: 'health_changed', ...fields }, 'instance state changed')
    this.ports.events.publish('health_changed', fields)
    if (!this.#stopped) this.#hand(record)
  }

  /** Hands the record's verdict to the sink. */
  #hand(record: HealthRecord): void {
    const live = isLive(record.health)
    const weight = live ? slowStartWeight(record.liveSinceMs, this.#now(), record.service.slowStartSeconds) : 1
    this.ports.verdicts.setVerdict(record.instance.id, { health: record.health, live, weight, ejections: record.facts.ejections })
  }

  /** Hands on a new weight at each slow-start step, so the instance's share follows the ramp. */
  #scheduleRamp(record: HealthRecord): void {
    const wait = nextRampStepMs(record.liveSinceMs, this.#now(), record.service.slowStartSeconds)
    if (wait === undefined) return
    record.checks.schedule(wait, () => {
      if (!isLive(record.health) || this.#stopped) return
      this.#hand(record)
      this.#scheduleRamp(record)
    })
  }
}
