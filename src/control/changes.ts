import { randomUUID } from 'node:crypto'
import { ConfigError } from '../config/errors.js'
import type { ServiceConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import { Serial } from '../support/serial.js'
import { identicalWeights, validateWeights } from '../routing/weights.js'
import { FileStore } from '../state/file-store.js'
import { overlayConfig, reconcileOnReload } from '../state/merge.js'
import { isShared } from '../state/shared.js'
import { StoreUnavailableError, historyOf, type Change, type DesiredState, type HistoryEntry, type StateStore, type Weights } from '../state/store.js'
import type { DrainStatus, DrainTracker } from './drain.js'
import { HttpError } from './http-errors.js'
import type { ControlPlane } from './plane.js'
import type { ConnectProbe } from './ports.js'
import { changeToUndo, cutoverWeights, drainedGroups, refuseCutover } from './change-rules.js'
import { rolloutEvents, type RolloutEventType } from './rollout-events.js'
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
   * The desired state under a reloaded config (call inside `exclusive`): the saved weights keep
   * winning, services and weight-0 groups the file dropped leave it, new services get the file's
   * weights; saved before it is in force. Returns every service's weights. Throws a ConfigError
   * naming `source` when a dropped group still has traffic; nothing changed then.
   */
  async reload(services: readonly ServiceConfig[], source: string): Promise<Map<string, Weights>> {
    const config = new Map(services.map((service) => [service.name, { weights: service.weights, groups: service.groups.map((group) => group.name) }]))
    if (this.store === undefined) {
      // Read-only weights are the file's: nothing else could have changed them.
      const weights = new Map(services.map((service) => [service.name, service.weights]))
      this.#state = { ...this.#state, services: Object.fromEntries([...weights].map(([name, value]) => [name, { weights: value }])) }
      return weights
    }
    const result = reconcileOnReload(this.#state, config)
    if ('conflict' in result) {
      const index = services.findIndex((service) => service.name === result.conflict.service)
      throw new ConfigError(source, ['services', index, 'groups'], result.conflict.message)
    }
    for (const name of Object.keys(this.#state.services)) if (!config.has(name)) this.drains.supersede(name)
    const weights = new Map(Object.entries(result.state.services).map(([name, service]) => [name, service.weights]))
    if (isShared(this.store)) {
      // Other replicas may still run the services and groups this file dropped: the shared state
      // keeps them, and this replica routes by what fits its config.
      this.#state = overlayConfig(this.#state, config).state
      return weights
    }
    if (result.changed && this.store instanceof FileStore) {
      try {
        await this.store.save(result.state)
      } catch (error) {
        throw new ConfigError(source, '', `cannot save the desired state for the new config: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    this.#state = result.state
    return weights
  }

  #groupsOf(service: string): string[] {
    const config = this.plane.service(service)
    if (config === undefined) throw new HttpError('unknown_service', `unknown service "${service}"`)
    return config.groups.map((group) => group.name)
  }

  /** Refusals that depend on the state rather than the request: read-only, store down, stale revision. */
  #guard(options: MutationOptions): void {
    if (this.store === undefined) {
      throw new HttpError('read_only', 'weights are read-only: the config has no "state" block to persist changes in')
    }
    if (isShared(this.store) && !this.store.connected) {
      throw new HttpError(
        'store_unavailable',
        `the state store is unreachable (${this.store.lastError ?? 'connecting'}); the change was not applied, and traffic keeps flowing on revision ${this.#state.revision}`,
        { 'retry-after': '1' },
      )
    }
    if (options.ifMatch !== undefined && options.ifMatch !== this.#state.revision) {
      throw new HttpError('revision_mismatch', `If-Match: revision is ${this.#state.revision}, not ${options.ifMatch}`, {
        etag: `"${this.#state.revision}"`,
      })
    }
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
          throw this.#storeFailure(error)
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

  #storeFailure(error: unknown): HttpError {
    if (error instanceof StoreUnavailableError) {
      this.logger.warn({ event: 'state_write_failed', outcome: error.outcome, err: error }, 'cannot write a change to the state store')
      return new HttpError('store_unavailable', error.message, { 'retry-after': '1' })
    }
    this.logger.error({ event: 'state_write_failed', err: error }, 'cannot persist a change; nothing was applied')
    return new HttpError('persist_failed', error instanceof Error ? error.message : String(error))
  }

  #result(state: DesiredState, id: string): ChangeResult {
    const change = state.history.find((entry) => entry.id === id)!
    const drain = change.kind === 'cutover' ? this.drains.statusOf(change.service) : undefined
    return drain === undefined ? { revision: change.revision, change } : { revision: change.revision, change, drain }
  }

  /**
   * Makes `next` the state in force when it is newer: per service whose weights or history moved,
   * a running drain is superseded, the plane gets the weights, a new cut-over starts draining
   * here, and each new history entry is announced.
   */
  #adopt(next: DesiredState): void {
    const before = this.#state
    if (next.revision <= before.revision) return
    this.#state = next
    const fresh = next.history.filter((entry) => entry.revision > before.revision)
    for (const service of this.plane.config.services) {
      const name = service.name
      const entries = fresh.filter((entry) => entry.service === name)
      const weights = next.services[name]?.weights
      const rollout = rolloutEvents(name, before.services[name]?.rollout, next.services[name]?.rollout, weights ?? {})
      if (weights === undefined || (entries.length === 0 && (before.services[name] !== undefined && identicalWeights(before.services[name].weights, weights)))) {
        for (const { type, payload } of rollout) this.#publish(type, payload)
        continue
      }
      const checked = validateWeights(weights, service.groups.map((group) => group.name))
      // The store already said which services do not fit this config; their routing stays.
      if (!checked.ok) continue
      const last = entries[entries.length - 1]
      const record = next.services[name]?.cutover
      const drains = last?.kind === 'cutover' && record !== undefined && record.revision === last.revision ? record : undefined
      // A later change ends a running drain first, so its cutover_completed comes before this change's event.
      this.drains.supersede(name)
      this.plane.setWeights(name, checked.weights)
      for (const entry of entries) {
        if (entry === last && drains !== undefined) continue
        this.#announce(eventOf(entry), entry, entry.kind === 'cutover' ? { to: entry.to, from: drainedGroups(entry.before, entry.after) } : {})
      }
      if (drains !== undefined) {
        const instances = drains.from.flatMap((group) => this.plane.instancesOf(name, group))
        const { to, from, revision, startedAt, drainSeconds } = drains
        const drain = this.drains.start({ service: name, to, from, revision, startedAt, drainSeconds }, instances)
        this.#announce('cutover_started', last!, { to, from, drainSeconds, inflight: drain.inflight })
      }
      for (const { type, payload } of rollout) this.#publish(type, payload)
    }
    if (isShared(this.store)) this.store.applied(next)
    for (const listener of this.#listeners) listener(next)
  }

  #publish(eventType: RolloutEventType, payload: Record<string, unknown>): void {
    this.plane.events.publish(eventType, payload)
    const { service, id, step, of } = payload as { service: string; id: string; step: number; of: number }
    this.logger.info({ event: eventType, ...payload }, `${eventType} ${service} (rollout ${id}, step ${step} of ${of})`)
  }

  #announce(
    eventType: 'weights_changed' | 'cutover_started' | 'rollback',
    entry: HistoryEntry,
    extra: Record<string, unknown>,
  ): void {
    const payload: Record<string, unknown> = {
      service: entry.service,
      revision: entry.revision,
      before: entry.before,
      after: entry.after,
      ...extra,
    }
    if (entry.undid !== undefined) payload.undid = entry.undid
    if (entry.reason !== undefined) payload.reason = entry.reason
    this.plane.events.publish(eventType, payload)
    this.logger.info({ event: eventType, ...payload }, `${eventType} ${entry.service} (revision ${entry.revision})`)
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

function eventOf(entry: HistoryEntry): 'weights_changed' | 'cutover_started' | 'rollback' {
  return entry.kind === 'weights' ? 'weights_changed' : entry.kind === 'rollback' ? 'rollback' : 'cutover_started'
}

function now(): string {
  return new Date().toISOString()
}

/** Weights of every configured service, for the initial state. */
export function configWeights(plane: ControlPlane): Map<string, Weights> {
  return new Map(plane.config.services.map((service) => [service.name, plane.weightsOf(service.name)]))
}
