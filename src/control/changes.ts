import { ConfigError } from '../config/errors.js'
import type { ServiceConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import { validateWeights } from '../routing/weights.js'
import { reconcileOnReload } from '../state/merge.js'
import { applyChange, historyOf, type Change, type DesiredState, type HistoryEntry, type StateStore, type Weights } from '../state/store.js'
import type { DrainStatus, DrainTracker } from './drain.js'
import { HttpError } from './http-errors.js'
import type { ControlPlane } from './plane.js'
import type { ConnectProbe } from './ports.js'
import { changeToUndo, cutoverWeights, drainedGroups, refuseCutover } from './change-rules.js'

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

/**
 * Applies changes to the desired state, one at a time: check, persist, then publish the new
 * snapshot and the event. A change that fails any step leaves the state, the revision and the
 * routing untouched. Without a store the weights are read-only (without `state` nothing could
 * persist a change), and every mutation is refused with 409 `read_only`.
 */
export class ChangeController {
  #state: DesiredState
  // Mutations run one after the other so If-Match and the file always see the latest revision.
  #queue: Promise<unknown> = Promise.resolve()

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

  setWeights(service: string, input: unknown, options: MutationOptions): Promise<ChangeResult> {
    return this.#serial(async () => {
      const groups = this.#groupsOf(service)
      const checked = validateWeights(input, groups)
      if (!checked.ok) {
        const field = checked.field === '' ? 'weights' : `weights.${checked.field}`
        throw new HttpError('invalid_weights', `${field}: ${checked.message}`)
      }
      this.#guard(options)
      return this.#commit({ service, kind: 'weights', after: checked.weights, time: now(), reason: options.reason })
    })
  }

  cutover(service: string, to: string, options: CutoverOptions): Promise<ChangeResult> {
    return this.#serial(async () => {
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
      const before = this.#state.services[service]?.weights ?? this.plane.weightsOf(service)
      const after = cutoverWeights(groups, to)
      const from = drainedGroups(before, after)
      const drainSeconds = options.drainSeconds ?? this.plane.service(service)!.drainSeconds
      const time = now()
      const result = await this.#commit(
        { service, kind: 'cutover', after, time, reason: options.reason, to, cutover: { to, from, startedAt: time, drainSeconds } },
        true,
      )
      const instances = from.flatMap((group) => this.plane.instancesOf(service, group))
      const drain = this.drains.start({ service, to, from, revision: result.revision, startedAt: time, drainSeconds }, instances)
      this.#announce('cutover_started', result.change, {
        to,
        from,
        drainSeconds,
        inflight: drain.inflight,
      })
      return { ...result, drain }
    })
  }

  rollback(service: string, options: MutationOptions): Promise<ChangeResult> {
    return this.#serial(async () => {
      const groups = this.#groupsOf(service)
      const target = changeToUndo(historyOf(this.#state, service))
      if (target === undefined) throw new HttpError('nothing_to_roll_back', `${service} has no change left to roll back`)
      // The config may have lost a group since that change; restoring it must still be valid.
      const checked = validateWeights(target.before, groups)
      if (!checked.ok) {
        throw new HttpError('nothing_to_roll_back', `cannot restore the weights before revision ${target.revision}: ${checked.message}`)
      }
      this.#guard(options)
      return this.#commit({ service, kind: 'rollback', after: checked.weights, time: now(), reason: options.reason, undid: target.revision })
    })
  }

  /**
   * Runs `task` with no change in between (a reload swaps the config while no weight change can
   * interleave and be overwritten).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#serial(task)
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
    if (result.changed) {
      try {
        await this.store.save(result.state)
      } catch (error) {
        throw new ConfigError(source, '', `cannot save the desired state for the new config: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    for (const name of Object.keys(this.#state.services)) if (!config.has(name)) this.drains.supersede(name)
    this.#state = result.state
    return new Map(Object.entries(result.state.services).map(([name, service]) => [name, service.weights]))
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }

  #groupsOf(service: string): string[] {
    const config = this.plane.service(service)
    if (config === undefined) throw new HttpError('unknown_service', `unknown service "${service}"`)
    return config.groups.map((group) => group.name)
  }

  /** Refusals that depend on the state rather than the request: read-only, stale revision. */
  #guard(options: MutationOptions): void {
    if (this.store === undefined) {
      throw new HttpError('read_only', 'weights are read-only: the config has no "state" block to persist changes in')
    }
    if (options.ifMatch !== undefined && options.ifMatch !== this.#state.revision) {
      throw new HttpError('revision_mismatch', `If-Match: revision is ${this.#state.revision}, not ${options.ifMatch}`, {
        etag: `"${this.#state.revision}"`,
      })
    }
  }

  /** Persists, then applies to routing; publishes the event unless the caller adds fields first. */
  async #commit(change: Change, announceLater = false): Promise<ChangeResult> {
    const next = applyChange(this.#state, change)
    try {
      await this.store!.save(next)
    } catch (error) {
      this.logger.error({ event: 'state_write_failed', err: error }, 'cannot persist a change; nothing was applied')
      throw new HttpError('persist_failed', error instanceof Error ? error.message : String(error))
    }
    this.#state = next
    // A later change ends a running drain first, so its cutover_completed comes before this change's event.
    this.drains.supersede(change.service)
    this.plane.setWeights(change.service, change.after)
    const entry = next.history[next.history.length - 1]!
    if (!announceLater) this.#announce(change.kind === 'weights' ? 'weights_changed' : 'rollback', entry, {})
    return { revision: next.revision, change: entry }
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

function now(): string {
  return new Date().toISOString()
}

/** Weights of every configured service, for the initial state. */
export function configWeights(plane: ControlPlane): Map<string, Weights> {
  return new Map(plane.config.services.map((service) => [service.name, plane.weightsOf(service.name)]))
}
