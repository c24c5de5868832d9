import { randomUUID } from 'node:crypto'
import type { ServiceConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import { Serial } from '../support/serial.js'
import { validateWeights } from '../routing/weights.js'
import { isShared } from '../state/shared.js'
import { historyOf, type Change, type DesiredState, type HistoryEntry, type StateStore, type Weights } from '../state/store.js'
import type { DrainStatus, DrainTracker } from './drain.js'
import { HttpError } from './http-errors.js'
import type { ControlPlane } from './plane.js'
import type { ConnectProbe } from './ports.js'
import { putInForce } from './change-adoption.js'
import { assertWritable, storeFailure } from './change-refusals.js'
import { reconcileReload } from './change-reload.js'
import { changeToUndo, cutoverWeights, drainedGroups, refuseCutover } from './change-rules.js'
import { pausedByOperator } from './rollout-steps.js'

/** Options every mutation takes. */
export interface MutationOptions {
  /** Free text kept in the history and the event. */
  readonly reason?: string
  /** Compare-and-set: the change applies only if the revision is still this one. */
  readonly ifMatch?: number
}

export interface CutoverOptions extends MutationOptions {
  readonly drainSeconds?: number
  readonly minReady?: number
}

/** What a mutation returns to the API. */
export interface ChangeResult {
  readonly revision: number
  readonly change: HistoryEntry
  readonly drain?: DrainStatus
}

/** What a planned change committed: the state it produced and its history entry, when it made one. */
export interface Committed {
  readonly revision: number
  readonly state: DesiredState
  readonly change?: HistoryEntry
}

/** Tries of one change when other replicas keep writing first (without If-Match). */
const MAX_ATTEMPTS = 5

/** A change as planned on one state. */
export type Plan = (state: DesiredState) => Omit<Change, 'id'> | Promise<Omit<Change, 'id'>>

/**
 * Applies changes to the desired state, one at a time: check, persist, then publish the new
 * snapshot and the event. A change that fails any step leaves the state, the revision and the
 * routing untouched. Without a store the weights are read-only (without `state` nothing could
 * persist a change), and every mutation is refused with 409 `read_only`.
 *
 * With a shared store (etcd) every change is a compare-and-set on the store's revision: when
 * another replica wrote first, the controller takes that state and plans the change again on it
 * (or answers 412 when the caller sent If-Match). States other replicas wrote arrive through
 * `fromStore` and are applied the same way as this replica's own: routing, drains and events.
 */
export class ChangeController {
  #state: DesiredState
  // Mutations run one after the other so If-Match and the file always see the latest revision.
  readonly #serial = new Serial()
  readonly #listeners = new Set<(state: DesiredState) => void>()

  constructor(
    private readonly plane: ControlPlane,
    private readonly store: StateStore | undefined,
    initial: DesiredState,
    readonly drains: DrainTracker,
    private readonly acceptsConnection: ConnectProbe,
    private readonly logger: Logger,
  ) {
    this.#state = initial
  }

  get state(): DesiredState {
    return this.#state
  }

  get revision(): number {
    return this.#state.revision
  }

  /** A state the shared store delivered (another replica's change, or a reload): applied when newer. */
  fromStore(state: DesiredState): void {
    this.#adopt(state)
  }

  /** Calls `listener` with each state once it is in force (this replica's changes and others'). */
  onState(listener: (state: DesiredState) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Commits the change `plan` makes of the current state, as every mutation is committed
   * (serialized, checked against the store and If-Match, persisted, then applied and announced).
   * `plan` throws an HttpError to refuse; it runs again on the newer state when another replica
   * wrote first.
   */
  apply(options: MutationOptions, plan: Plan): Promise<Committed> {
    return this.#serial.run(async () => {
      const { state, id } = await this.#mutate(options, async (base) => {
        const change = await plan(base)
        this.#guard(options)
        return change
      })
      const change = state.history.find((entry) => entry.id === id)
      return change === undefined ? { revision: state.revision, state } : { revision: change.revision, state, change }
    })
  }

  setWeights(service: string, input: unknown, options: MutationOptions): Promise<ChangeResult> {
    return this.#serial.run(() =>
      this.#change(options, (state) => {
        const groups = this.#groupsOf(service)
        const checked = validateWeights(input, groups)
        if (!checked.ok) {
          const field = checked.field === '' ? 'weights' : `weights.${checked.field}`
          throw new HttpError('invalid_weights', `${field}: ${checked.message}`)
        }
        this.#guard(options)
        return withPause(state, { service, kind: 'weights', after: checked.weights, time: now(), reason: options.reason }, 'weights set')
      }),
    )
  }

  cutover(service: string, to: string, options: CutoverOptions): Promise<ChangeResult> {
    return this.#serial.run(() =>
      this.#change(options, async (state) => {
        const groups = this.#groupsOf(service)
        if (!groups.includes(to)) {
          throw new HttpError('invalid_body', `to: unknown group "${to}" (groups: ${groups.join(', ')})`)
        }
        const known = this.plane.instancesOf(service, to).length
        // Distinct instances: a ramping one is listed fewer times than the others (slow start).
        const live = [...new Set(this.plane.snapshot.current.servicesByName.get(service)?.groupsByName.get(to)?.instances)]
        const refusal = refuseCutover({ group: to, known, live: live.length, minReady: options.minReady })
        if (refusal !== undefined) throw new HttpError('not_ready', `cannot cut over ${service} to ${to}: ${refusal}`)
        this.#guard(options)
        // Live means checked, or unchecked when the group has no health checks: make sure something listens.
        const accepting = await Promise.all(live.map((instance) => this.acceptsConnection(instance)))
        if (!accepting.includes(true)) {
          const tried = live.map((instance) => instance.address).join(', ')
          throw new HttpError('not_ready', `cannot cut over ${service} to ${to}: no instance of group ${to} accepts a TCP connection (tried ${tried})`)
        }
        const before = state.services[service]?.weights ?? this.plane.weightsOf(service)
        const after = cutoverWeights(groups, to)
        const from = drainedGroups(before, after)
        const drainSeconds = options.drainSeconds ?? this.plane.service(service)!.drainSeconds
        const time = now()
        return withPause(state, { service, kind: 'cutover', after, time, reason: options.reason, to, cutover: { to, from, startedAt: time, drainSeconds } }, 'a cut-over made')
      }),
    )
  }

  rollback(service: string, options: MutationOptions): Promise<ChangeResult> {
    return this.#serial.run(() =>
      this.#change(options, (state) => {
        const groups = this.#groupsOf(service)
        const target = changeToUndo(historyOf(state, service))
        if (target === undefined) throw new HttpError('nothing_to_roll_back', `${service} has no change left to roll back`)
        // The config may have lost a group since that change; restoring it must still be valid.
        const checked = validateWeights(target.before, groups)
        if (!checked.ok) {
          throw new HttpError('nothing_to_roll_back', `cannot restore the weights before revision ${target.revision}: ${checked.message}`)
        }
        this.#guard(options)
        return withPause(state, { service, kind: 'rollback', after: checked.weights, time: now(), reason: options.reason, undid: target.revision }, 'a rollback made')
      }),
    )
  }

  /** A mutation whose change makes a history entry: answered with that entry. */
  async #change(options: MutationOptions, plan: Plan): Promise<ChangeResult> {
    const { state, id } = await this.#mutate(options, plan)
    return this.#result(state, id)
  }

  /**
   * Runs `task` with no change in between (a reload swaps the config while no weight change can
   * interleave and be overwritten).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#serial.run(task)
  }

  /**
   * The desired state under a reloaded config (call inside `exclusive`; see reconcileReload):
   * returns every service's weights, or throws a ConfigError naming `source` and changes nothing.
   */
  async reload(services: readonly ServiceConfig[], source: string): Promise<Map<string, Weights>> {
    const reconciled = await reconcileReload(this.#state, this.store, this.drains, services, source)
    this.#state = reconciled.state
    return reconciled.weights
  }

  #groupsOf(service: string): string[] {
    const config = this.plane.service(service)
    if (config === undefined) throw new HttpError('unknown_service', `unknown service "${service}"`)
    return config.groups.map((group) => group.name)
  }

  /** Refusals that depend on the state rather than the request: read-only, store down, stale revision. */
  #guard(options: MutationOptions): void {
    assertWritable(this.store, this.#state.revision, options.ifMatch)
  }

  /**
   * Plans the change on the current state and commits it (compare-and-set). When another replica
   * wrote first, its state is applied and the change planned again on it, unless If-Match pinned
   * the revision. A lost answer whose write went through is recognised by the change's id.
   */
  async #mutate(options: MutationOptions, plan: Plan): Promise<{ state: DesiredState; id: string }> {
    const id = randomUUID()
    // If-Match names a revision another replica wrote that this one has not seen yet: look.
    if (isShared(this.store) && options.ifMatch !== undefined && options.ifMatch > this.#state.revision) {
      const latest = await this.store.latest()
      if (latest !== undefined) this.#adopt(latest)
    }
    for (let attempt = 1; ; attempt++) {
      const base = this.#state
      const planned = await plan(base)
      // The record names the change that wrote it, so a lost answer is recognised without a history entry too.
      const change: Change = { ...planned, id, ...(planned.rollout === undefined ? {} : { rollout: { ...planned.rollout, changeId: id } }) }
      if (this.#state === base) {
        let outcome
        try {
          outcome = await this.store!.commit(base, change)
        } catch (error) {
          throw storeFailure(error, this.logger)
        }
        if (outcome.committed) {
          this.#adopt(outcome.state)
          return { state: outcome.state, id }
        }
        this.#adopt(outcome.current)
        if (madeBy(outcome.current, change)) return { state: outcome.current, id }
        if (options.ifMatch !== undefined) {
          throw new HttpError('revision_mismatch', `If-Match: revision is ${this.#state.revision}, not ${options.ifMatch} (another replica changed it first)`, {
            etag: `"${this.#state.revision}"`,
          })
        }
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new HttpError('write_conflict', `other replicas kept changing the state (revision ${this.#state.revision}); try again`)
      }
    }
  }

  #result(state: DesiredState, id: string): ChangeResult {
    const change = state.history.find((entry) => entry.id === id)!
    const drain = change.kind === 'cutover' ? this.drains.statusOf(change.service) : undefined
    return drain === undefined ? { revision: change.revision, change } : { revision: change.revision, change, drain }
  }

  /**
   * Makes `next` the state in force when it is newer (routing, drains and events: see putInForce),
   * then tells the shared store and the listeners.
   */
  #adopt(next: DesiredState): void {
    const before = this.#state
    if (next.revision <= before.revision) return
    this.#state = next
    putInForce(before, next, { plane: this.plane, drains: this.drains, logger: this.logger })
    if (isShared(this.store)) this.store.applied(next)
    for (const listener of this.#listeners) listener(next)
  }
}

/** `change` with the service's running rollout paused, when it has one: the operator's change wins. */
function withPause(state: DesiredState, change: Omit<Change, 'id'>, what: string): Omit<Change, 'id'> {
  const rollout = pausedByOperator(state.services[change.service]?.rollout, what)
  return rollout === undefined ? change : { ...change, rollout }
}

/** Whether `state` holds `change` already: its history entry, or the rollout record it wrote. */
function madeBy(state: DesiredState, change: Change): boolean {
  return state.history.some((entry) => entry.id === change.id) || state.services[change.service]?.rollout?.changeId === change.id
}

function now(): string {
  return new Date().toISOString()
}

/** Weights of every configured service, for the initial state. */
export function configWeights(plane: ControlPlane): Map<string, Weights> {
  return new Map(plane.config.services.map((service) => [service.name, plane.weightsOf(service.name)]))
}
