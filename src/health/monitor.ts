import { performance } from 'node:perf_hooks'
import type { ServiceConfig } from '../config/types.js'
import type { ControlPlane } from '../control/plane.js'
import type { Logger } from '../support/log.js'
import type { FailureKind } from '../proxy/errors.js'
import type { Upstream } from '../upstream/pools.js'
import { probe, type ProbeResult, type ProbeTarget } from './active.js'
import { InstanceChecks, type CheckEnvironment } from './checks.js'
import { countedEjections, ejectionAllowed, ejectionMs, failuresEject, fivexxEject, groupCensus } from './passive.js'
import { nextRampStepMs, slowStartWeight } from './ramp.js'
import {
  applyCheckOutcome,
  deriveState,
  eject,
  endEjection,
  initialFacts,
  isLiveState,
  markDraining,
  markReady,
  type CheckOutcome,
  type InstanceFacts,
} from './status.js'
import { emptyStateCounts, type InstanceState, type InstanceStatus, type StateCounts } from './types.js'

/** What the monitor needs of the control plane. */
export type HealthPlane = Pick<
  ControlPlane,
  'events' | 'knownUpstreams' | 'publish' | 'service' | 'setInstanceStates' | 'setLiveness' | 'weightsOf'
>

export interface HealthMonitorOptions {
  /** Monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number
  /** Runs one probe (default: a real HTTP/TCP probe). */
  readonly probe?: (target: ProbeTarget, signal: AbortSignal) => Promise<ProbeResult>
  /** How often ejections are ended and 5xx streaks read (default 250 ms). */
  readonly sweepMs?: number
}

interface InstanceRecord {
  readonly service: ServiceConfig
  readonly group: string
  readonly upstream: Upstream
  facts: InstanceFacts
  state: InstanceState
  /** Wall-clock time the state began, for status. */
  sinceMs: number
  reason: string
  /** Monotonic time the instance last became live (slow start). */
  liveSinceMs: number
  /** Active checks and slow-start steps; stopped once the instance drains. */
  readonly checks: InstanceChecks
  /** The panic guard's refusal was logged since the last transition. */
  guardLogged: boolean
}

/**
 * Health, readiness and passive outlier ejection for every known instance. It owns each instance's
 * state (see types.ts), runs the active checks on unref'd timers, reads the outcome counters the
 * data plane bumps, and installs the liveness rule the control plane builds snapshots with. Every
 * transition becomes a `health_changed` event and a log line; a change of liveness republishes.
 */
export class HealthMonitor {
  readonly #records = new Map<Upstream, InstanceRecord>()
  readonly #now: () => number
  /** Aborted by stop(): probes in flight close their sockets at once. */
  readonly #abort = new AbortController()
  readonly #checkEnvironment: CheckEnvironment
  readonly #sweepMs: number
  #sweepTimer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #syncQueued = false
  #stopped = false

  constructor(
    private readonly plane: HealthPlane,
    private readonly logger: Logger,
    options: HealthMonitorOptions = {},
  ) {
    this.#now = options.now ?? (() => performance.now())
    this.#sweepMs = options.sweepMs ?? 250
    this.#checkEnvironment = { now: this.#now, probe: options.probe ?? probe, signal: this.#abort.signal }
  }

  /** Installs the liveness rule and starts watching. Call before discovery reports instances. */
  #startingUp = true

  start(): void {
    if (this.#unsubscribe !== undefined || this.#stopped) return
    this.#unsubscribe = this.plane.events.subscribe((event) => {
      if (event.eventType === 'instance_added' || event.eventType === 'instance_removed') this.#queueSync()
    })
    this.#sync()
    this.plane.setInstanceStates((upstream, live) => this.stateOf(upstream) ?? (upstream.draining ? 'draining' : live ? 'healthy' : 'starting'))
    this.plane.setLiveness((upstream) => this.isLive(upstream))
    this.#sweepTimer = setInterval(this.#sweep, this.#sweepMs)
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

  /** Stops every check and timer; states stay readable. */
  stop(): void {
    this.#stopped = true
    this.#abort.abort()
    this.#unsubscribe?.()
    clearInterval(this.#sweepTimer)
    for (const record of this.#records.values()) record.checks.stop()
  }

  /** Whether `upstream` takes new requests. Unknown instances are live only in services without checks. */
  isLive(upstream: Upstream): boolean {
    const record = this.#records.get(upstream)
    if (record !== undefined) return isLiveState(record.state)
    const service = this.plane.service(upstream.serviceName)
    return service !== undefined && service.healthChecks.length === 0 && service.readinessChecks.length === 0
  }

  /** The slow-start weight of an instance: 0 when not live, in (0, 1] while it ramps, 1 after. */
  weightOf(upstream: Upstream): number {
    const record = this.#records.get(upstream)
    if (record === undefined) return this.isLive(upstream) ? 1 : 0
    if (!isLiveState(record.state)) return 0
    return slowStartWeight(record.liveSinceMs, this.#now(), record.service.slowStartSeconds)
  }

  /** The state of one instance, or undefined when health does not know it (yet). */
  stateOf(upstream: Upstream): InstanceState | undefined {
    return this.#records.get(upstream)?.state
  }

  /** Every instance health knows, with its state: for `GET /v1/services/...` and `zdd-proxy status`. */
  instanceStates(service?: string): InstanceStatus[] {
    const list: InstanceStatus[] = []
    for (const record of this.#records.values()) {
      if (service !== undefined && record.service.name !== service) continue
      list.push({
        service: record.service.name,
        group: record.group,
        instance: record.upstream.key,
        state: record.state,
        live: isLiveState(record.state),
        since: new Date(record.sinceMs).toISOString(),
        reason: record.reason,
        ejections: record.facts.ejections,
      })
    }
    return list
  }

  /** Instances per state of one group (every state present): `zdd_instances{service,group,state}`. */
  statesOf(service: string, group: string): StateCounts {
    const counts = emptyStateCounts()
    for (const record of this.#records.values()) {
      if (record.service.name === service && record.group === group) counts[record.state]++
    }
    return counts
  }

  #queueSync(): void {
    if (this.#syncQueued) return
    this.#syncQueued = true
    queueMicrotask(() => {
      this.#syncQueued = false
      if (!this.#stopped) this.#sync()
    })
  }

  /** Adds records for new instances and drains those that left discovery. */
  #sync(): void {
    const present = new Set<Upstream>()
    for (const { service, group, upstream } of this.plane.knownUpstreams()) {
      present.add(upstream)
      if (!this.#records.has(upstream)) this.#add(this.plane.service(service)!, group, upstream)
    }
    for (const record of this.#records.values()) {
      if (!present.has(record.upstream) && record.state !== 'draining') {
        record.checks.stop()
        this.#update(record, markDraining(record.facts), 'removed from discovery')
      }
    }
  }

  #add(service: ServiceConfig, group: string, upstream: Upstream): void {
    const now = this.#now()
    const facts = initialFacts(now, service.readinessChecks.length > 0, service.healthChecks.length)
    const checks = new InstanceChecks(upstream.endpoint, service, this.#checkEnvironment, {
      health: (index, outcome, detail) => this.#onHealth(record, index, outcome, detail),
      ready: (name, detail) => this.#update(record, markReady(record.facts), `readiness check ${name} passed (${detail})`),
      notReady: (detail) => {
        if (record.state === 'starting') record.reason = `not ready yet (${detail})`
      },
    })
    const record: InstanceRecord = {
      service,
      group,
      upstream,
      facts,
      checks,
      state: 'starting',
      reason: 'discovered',
      sinceMs: Date.now(),
      liveSinceMs: now,
      guardLogged: false,
    }
    this.#records.set(upstream, record)
    upstream.onFailure = this.#onFailure
    // Without checks the facts already say healthy: this announces it.
    this.#update(record, facts, 'no health or readiness checks configured')
    record.checks.start(this.#startingUp)
  }

  #onHealth(record: InstanceRecord, index: number, outcome: CheckOutcome, detail: string): void {
    const check = record.service.healthChecks[index]!
    const facts = applyCheckOutcome(record.facts, index, outcome, check, this.#now())
    const failures = facts.checks[index]!.failures
    const reason =
      outcome === 'pass'
        ? `health check passed (${detail})`
        : `health check failed${failures > 1 ? ` ${failures} times in a row` : ''} (${detail})`
    this.#update(record, facts, reason)
  }

  /** Reacts at once to a failed attempt (installed as Upstream.onFailure). */
  readonly #onFailure = (upstream: Upstream, kind: FailureKind): void => {
    const record = this.#records.get(upstream)
    if (record === undefined || record.state !== 'healthy') return
    const count = upstream.consecutiveFailures
    if (!failuresEject(kind, count, record.service.outlierDetection)) return
    this.#tryEject(record, `${count} failed attempt${count > 1 ? 's' : ''} in a row (last: ${kind})`)
  }

  /** Ends ejections whose time is over, ejects on 5xx streaks, forgets drained instances. */
  readonly #sweep = (): void => {
    const now = this.#now()
    for (const record of this.#records.values()) {
      if (record.state === 'draining') {
        if (record.upstream.inflight === 0) this.#forget(record)
        continue
      }
      const until = record.facts.ejectedUntilMs
      if (until !== undefined && now >= until) {
        const active = record.service.healthChecks.length > 0
        this.#update(record, endEjection(record.facts, now, active), 'ejection over')
        if (active) record.reason = 'ejection over; back after a passing health check'
      }
      const streak = record.upstream.consecutive5xx
      if (record.state === 'healthy' && fivexxEject(streak, record.service.outlierDetection)) {
        this.#tryEject(record, `${streak} 5xx responses in a row`)
      }
    }
  }

  #tryEject(record: InstanceRecord, why: string): void {
    const rule = record.service.outlierDetection
    const siblings = [...this.#records.values()].filter((other) => other.service === record.service)
    const { size, ejected, otherGroupsLive } = groupCensus(siblings, record.group, this.plane.weightsOf(record.service.name))
    if (!ejectionAllowed(ejected, size, otherGroupsLive, rule)) {
      if (!record.guardLogged) {
        record.guardLogged = true
        this.logger.warn(
          { event: 'ejection_skipped', ...this.#fields(record), reason: why, ejected, instances: size },
          'instance not ejected: too many of its group are ejected already (panic guard)',
        )
      }
      return
    }
    const now = this.#now()
    const previous = countedEjections(record.facts, now, rule)
    const duration = ejectionMs(previous, rule)
    this.#update(record, eject({ ...record.facts, ejections: previous }, now, duration), `${why}; ejected for ${duration / 1000} s`)
  }

  /** Stores new facts; on a change of state announces it and, if liveness changed, republishes. */
  #update(record: InstanceRecord, facts: InstanceFacts, reason: string): void {
    record.facts = facts
    const from = record.state
    const to = deriveState(facts)
    if (to === from) return
    record.state = to
    record.sinceMs = Date.now()
    record.reason = reason
    record.guardLogged = false
    const wasLive = isLiveState(from)
    const live = isLiveState(to)
    if (live && !wasLive) {
      record.liveSinceMs = this.#now()
      // Stale streaks from before must not eject the instance again at once.
      record.upstream.consecutiveFailures = 0
      record.upstream.consecutive5xx = 0
      this.#scheduleRamp(record)
    }
    const fields = { ...this.#fields(record), from, to, reason }
    if (to === 'unhealthy' || to === 'ejected') this.logger.warn({ event: 'health_changed', ...fields }, 'instance state changed')
    else this.logger.info({ event: 'health_changed', ...fields }, 'instance state changed')
    this.plane.events.publish('health_changed', fields)
    if (wasLive !== live && !this.#stopped) this.plane.publish()
  }

  /** Rebuilds the snapshot at each slow-start step so the instance's share follows the ramp. */
  #scheduleRamp(record: InstanceRecord): void {
    const wait = nextRampStepMs(record.liveSinceMs, this.#now(), record.service.slowStartSeconds)
    if (wait === undefined) return
    record.checks.schedule(wait, () => {
      if (!isLiveState(record.state) || this.#stopped) return
      this.plane.publish()
      this.#scheduleRamp(record)
    })
  }

  #fields(record: InstanceRecord) {
    return { service: record.service.name, group: record.group, instance: record.upstream.key }
  }

  #forget(record: InstanceRecord): void {
    record.checks.stop()
    this.#records.delete(record.upstream)
    if (record.upstream.onFailure === this.#onFailure) record.upstream.onFailure = undefined
  }
}
