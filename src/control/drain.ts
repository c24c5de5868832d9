import type { EventBus } from '../support/events.js'
import type { Logger } from '../support/log.js'
import type { KnownInstance } from '../upstream/instance.js'
import type { DetachedPool } from '../upstream/pools.js'
import type { DataPlaneLink } from './ports.js'
import { drainCounts, type DrainCounts, type DrainOutcome } from './change-rules.js'

/** A cut-over's drain as status shows it. */
export interface DrainStatus {
  readonly service: string
  readonly to: string
  readonly from: readonly string[]
  readonly revision: number
  readonly startedAt: string
  readonly drainSeconds: number
  /** `draining` until the old side is empty, the deadline passes or a later change supersedes it. */
  readonly phase: 'draining' | DrainOutcome
  /** Requests still running on the drained groups' old connections. */
  readonly inflight: number
  /** Set once the drain ended. */
  readonly counts?: DrainCounts
  /** With a shared store: each live replica's part (the phase and counts above are the whole fleet's). */
  readonly replicas?: readonly ReplicaDrain[]
}

/** One replica's part of a cut-over's drain. `pending`: it has not applied the cut-over yet. */
export interface ReplicaDrain {
  readonly replica: string
  readonly phase: DrainStatus['phase'] | 'pending'
  readonly inflight: number
}

/**
 * The other replicas' side of drains (with a shared store): this replica reports its own drain,
 * and a drain counts as ended only when every live replica's has. `cutover_completed` is then
 * published by the peers, not by the tracker.
 */
export interface DrainPeers {
  /** This replica's drain of a service started or ended; `joined`: it was over before this replica started. */
  report(status: DrainStatus, joined?: boolean): void
  /** The fleet's view of a drain, given this replica's. */
  combine(local: DrainStatus): DrainStatus
}

interface ActiveDrain {
  readonly status: DrainStatus
  readonly pools: readonly DetachedPool[]
  readonly inflightAtStart: number
  readonly deadline: NodeJS.Timeout
}

/** Requests on a set of detached pools: queued, sent, or waiting for their response. */
function runningOn(pools: ActiveDrain['pools']): number {
  let total = 0
  for (const pool of pools) total += pool.running()
  return total
}

/**
 * Drains the groups a cut-over took traffic from. Every data plane moves their instances to fresh
 * connection pools; the old pools close idle connections at once and busy ones after their request,
 * and whatever still runs at the deadline is destroyed. `cutover_completed` reports when the old side is
 * empty: the "drained" signal zdd.py had to guess from HAProxy stats.
 */
export class DrainTracker {
  readonly #active = new Map<string, ActiveDrain>()
  readonly #last = new Map<string, DrainStatus>()

  constructor(
    private readonly dataPlanes: Pick<DataPlaneLink, 'detach'>,
    private readonly events: EventBus,
    private readonly logger: Logger,
    /** Told which groups of a service drain, so routing keeps overrides out of them. */
    private readonly drainingGroups: (service: string, groups: readonly string[]) => void = () => {},
    /** With a shared store, the other replicas (see DrainPeers). */
    private readonly peers?: DrainPeers,
  ) {}

  /** Starts draining `instances` (the old groups' instances); any earlier drain of the service is superseded. */
  start(
    cutover: Omit<DrainStatus, 'phase' | 'inflight' | 'counts'>,
    instances: readonly KnownInstance[],
  ): DrainStatus {
    this.supersede(cutover.service)
    const pools = instances.map((instance) => this.dataPlanes.detach(instance.id))
    const inflightAtStart = runningOn(pools)
    const deadline = setTimeout(() => this.#finish(cutover.service, active, 'deadline'), cutover.drainSeconds * 1000)
    deadline.unref()
    const active: ActiveDrain = {
      status: { ...cutover, phase: 'draining', inflight: inflightAtStart },
      pools,
      inflightAtStart,
      deadline,
    }
    this.#active.set(cutover.service, active)
    this.#last.set(cutover.service, active.status)
    this.drainingGroups(cutover.service, cutover.from)
    this.peers?.report(active.status)
    void Promise.all(pools.map(({ closed }) => closed)).then(() => this.#finish(cutover.service, active, 'drained'))
    return this.statusOf(cutover.service)!
  }

  /**
   * A cut-over that was already in the state when this replica started: it had nothing in flight
   * on the old groups, so its part of the drain is done. Reported, not announced.
   */
  joined(cutover: Omit<DrainStatus, 'phase' | 'inflight' | 'counts'>): void {
    const status: DrainStatus = { ...cutover, phase: 'drained', inflight: 0, counts: drainCounts(0, 0, 'drained') }
    this.#last.set(cutover.service, status)
    this.peers?.report(status, true)
  }

  /**
   * Ends a running drain of `service` because a later change (weights, rollback, another
   * cut-over) replaced it. The deadline is cancelled: requests still on the old connections
   * finish on their own, since the operator may have just brought their group back.
   */
  supersede(service: string): void {
    const active = this.#active.get(service)
    if (active !== undefined) this.#finish(service, active, 'superseded')
  }

  /** The running or last drain of a service. */
  statusOf(service: string): DrainStatus | undefined {
    const active = this.#active.get(service)
    const local = active !== undefined ? { ...active.status, inflight: runningOn(active.pools) } : this.#last.get(service)
    return local === undefined || this.peers === undefined ? local : this.peers.combine(local)
  }

  /** Cancels every deadline (shutdown closes the pools anyway). */
  stop(): void {
    for (const active of this.#active.values()) clearTimeout(active.deadline)
    this.#active.clear()
  }

  #finish(service: string, active: ActiveDrain, outcome: DrainOutcome): void {
    if (this.#active.get(service) !== active) return
    this.#active.delete(service)
    clearTimeout(active.deadline)
    this.drainingGroups(service, [])
    const stillRunning = runningOn(active.pools)
    if (outcome === 'deadline') {
      for (const pool of active.pools) pool.destroy()
    }
    const counts = drainCounts(active.inflightAtStart, stillRunning, outcome)
    const status: DrainStatus = { ...active.status, phase: outcome, inflight: 0, counts }
    this.#last.set(service, status)
    const { service: name, to, from, revision, drainSeconds } = status
    if (this.peers !== undefined) {
      this.logger.info({ event: 'drain_finished_here', service: name, to, revision, outcome, ...counts }, `cut-over of ${name} to ${to}: ${outcome} on this replica`)
      this.peers.report(status)
      return
    }
    const durationMs = Date.now() - Date.parse(status.startedAt)
    const payload = { service: name, to, from, revision, drainSeconds, outcome, durationMs, ...counts }
    this.events.publish('cutover_completed', payload)
    this.logger.info({ event: 'cutover_completed', ...payload }, `cut-over of ${name} to ${to}: ${outcome}`)
  }
}
