/**
 * Progressive rollouts: the operator's actions (start, pause, resume, promote, abort) and the
 * driver that judges each step's window and moves the rollout on. The rollout lives in the desired
 * state, so every transition is a change like any other (serialized, compare-and-set, persisted
 * before it is in force) and every replica follows it; only the driver makes transitions of its
 * own: with a file store this process, with etcd the replica holding the driver key.
 */
import { randomBytes } from 'node:crypto'
import { defaultReplicaId, isShared } from '../state/shared.js'
import { rolloutActive, type RolloutRecord, type StepFigures } from '../state/rollout-record.js'
import type { DesiredState, StateStore } from '../state/store.js'
import type { Logger } from '../support/log.js'
import type { ChangeController, Committed, MutationOptions } from './changes.js'
import type { DrainTracker } from './drain.js'
import { HttpError } from './http-errors.js'
import type { ControlPlane } from './plane.js'
import type { RolloutCounts } from './rollout-counts.js'
import { baselineGroups, earlierBaseline, judge, windowFigures, type Verdict } from './rollout-rules.js'
import { abort, advance, complete, enterStep, fail, pause, startRollout, type PlannedChange, type RolloutRequest, type StepContext } from './rollout-steps.js'

/** How often the driver looks at the running rollouts (and each replica publishes its counts). */
export const ROLLOUT_TICK_MS = 500

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort'

/** A window's live figures and what they say now. */
export interface LiveWindow {
  readonly figures: StepFigures
  readonly verdict: Verdict
  readonly elapsedSeconds: number
}

/** Thrown by a transition planned on a state whose rollout moved on meanwhile: nothing to do. */
class StaleRollout extends Error {}

export class Rollouts {
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor(
    private readonly plane: ControlPlane,
    private readonly changes: ChangeController,
    private readonly counts: RolloutCounts,
    private readonly drains: DrainTracker,
    private readonly store: StateStore | undefined,
    private readonly logger: Logger,
    private readonly tickMs = ROLLOUT_TICK_MS,
  ) {
    // Each replica counts a window from the moment it applies the state that opened it.
    changes.onState((state) => this.#follow(state))
    this.#follow(changes.state)
  }

  /** The replica that drives rollouts (undefined with etcd while none holds the key, and without a store). */
  get driver(): string | undefined {
    if (isShared(this.store)) return this.store.driver
    // As /v1/cluster names this process with a file store.
    return this.store === undefined ? undefined : defaultReplicaId()
  }

  /** Whether this replica makes the transitions. */
  get driving(): boolean {
    if (isShared(this.store)) return this.store.driver === this.store.replicaId
    return this.store !== undefined
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), this.tickMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Starts a rollout of `service` at its first step. */
  begin(service: string, request: RolloutRequest, options: MutationOptions): Promise<Committed> {
    return this.changes.apply(options, (state) => {
      const groups = this.#groups(service)
      if (!groups.includes(request.to)) throw new HttpError('invalid_body', `to: unknown group "${request.to}" (groups: ${groups.join(', ')})`)
      const current = state.services[service]?.rollout
      if (current !== undefined && rolloutActive(current)) {
        throw new HttpError('rollout_in_progress', `${service} has a rollout ${current.phase} (${current.id}, to ${current.to}, step ${current.step + 1} of ${current.steps.length}); abort it first`)
      }
      const ctx = this.#context(service, state)
      if (baselineGroups(ctx.weights, request.to).length === 0) {
        throw new HttpError('no_baseline', `nothing to roll ${service} out from: no group but ${request.to} has a weight above 0`)
      }
      this.#refuseWithoutLiveCanary(service, request.to)
      return startRollout(request, `${service}-${ctx.time.replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`, ctx)
    })
  }

  /** Pause, resume, promote (next step now) or abort (back to the weights before, at once). */
  act(service: string, action: RolloutAction, options: MutationOptions): Promise<Committed> {
    return this.changes.apply(options, (state) => {
      const rollout = state.services[service]?.rollout
      if (rollout === undefined) throw new HttpError('no_rollout', `${service} has no rollout`)
      const ctx = this.#context(service, state)
      const allowed: Record<RolloutAction, readonly string[]> = {
        pause: ['running'],
        resume: ['paused'],
        promote: ['running', 'paused'],
        abort: ['running', 'paused', 'finishing'],
      }
      if (!allowed[action].includes(rollout.phase)) {
        throw new HttpError('rollout_not_active', `cannot ${action} rollout ${rollout.id} of ${service}: it is ${rollout.phase}${rollout.reason === undefined ? '' : ` (${rollout.reason})`}`)
      }
      const why = options.reason === undefined ? '' : `: ${options.reason}`
      switch (action) {
        case 'pause':
          return pause(rollout, `paused by the operator${why}`, ctx, this.live(service, rollout)?.figures)
        case 'resume':
          this.#refuseWithoutLiveCanary(service, rollout.to)
          return enterStep(rollout, rollout.step, ctx)
        case 'promote': {
          const figures = this.live(service, rollout)?.figures ?? null
          return advance(rollout, { step: rollout.step + 1, weight: rollout.steps[rollout.step]!, result: 'promoted', at: ctx.time, figures }, ctx)
        }
        case 'abort':
          return abort(rollout, `aborted by the operator${why}`, ctx)
      }
    })
  }

  /** The figures of the open window and the verdict they give now; undefined when no window runs here. */
  live(service: string, rollout: RolloutRecord): LiveWindow | undefined {
    if (rollout.phase !== 'running' && rollout.phase !== 'paused') return undefined
    const total = this.counts.total(service, rollout.window)
    const elapsedSeconds = Math.max(0, (Date.now() - Date.parse(rollout.windowStartedAt)) / 1000)
    const earlier = earlierBaseline(rollout)
    let figures = windowFigures(total.groups, rollout.to, baselineGroups(rollout.before, rollout.to), elapsedSeconds, total.replicas)
    const baselineWeighted = rollout.steps[rollout.step]! < 100
    const verdict = judge({ figures, analysis: rollout.analysis, stepSeconds: rollout.stepSeconds, elapsedSeconds, baselineWeighted, earlierBaseline: earlier })
    if (rollout.analysis.compareToBaseline && !baselineWeighted && earlier !== undefined) figures = { ...figures, baselineFromStep: earlier.step }
    return { figures, verdict, elapsedSeconds }
  }

  #follow(state: DesiredState): void {
    for (const service of this.plane.config.services) {
      const rollout = state.services[service.name]?.rollout
      if (rollout?.phase === 'running' || rollout?.phase === 'paused') this.counts.open(service.name, rollout.window, rollout.windowStartedAt)
      else this.counts.close(service.name)
    }
  }

  async #tick(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      for (const service of this.plane.config.services) {
        const name = service.name
        const rollout = this.changes.state.services[name]?.rollout
        if (rollout === undefined || !this.#groups(name).includes(rollout.to)) continue
        if (rollout.phase === 'running') {
          this.counts.publish(name)
          if (this.driving) await this.#judge(name, rollout)
        } else if (rollout.phase === 'finishing' && this.driving) {
          await this.#finish(name, rollout)
        }
      }
    } catch (error) {
      this.logger.error({ event: 'rollout_tick_failed', err: error }, 'the rollout driver failed; it tries again at its next tick')
    } finally {
      this.#busy = false
    }
  }

  /** Judges the running step's window and acts on the verdict. */
  async #judge(service: string, rollout: RolloutRecord): Promise<void> {
    const live = this.live(service, rollout)
    if (live === undefined || live.verdict.kind === 'wait') return
    const { verdict, figures } = live
    await this.#transition(service, rollout, (record, ctx) => {
      if (verdict.kind === 'fail') return fail(record, verdict.reason, verdict.failed, figures, ctx)
      if (verdict.kind === 'pause') return pause(record, verdict.reason, ctx, figures)
      // Never hand more traffic to a canary with nothing live to take it (its share would fall on nobody at 100 %).
      if (this.#liveInstances(service, record.to) === 0) {
        return pause(record, `step ${record.step + 1} passed, but group ${record.to} has no live instance to take the next step`, ctx, figures)
      }
      return advance(record, { step: record.step + 1, weight: record.steps[record.step]!, result: 'passed', at: ctx.time, figures }, ctx)
    })
  }

  /** After the hand-over: completes once the cut-over's drain has ended (on every replica). */
  async #finish(service: string, rollout: RolloutRecord): Promise<void> {
    const drain = this.drains.statusOf(service)
    const ours = drain !== undefined && drain.startedAt === rollout.cutoverAt
    if (ours && drain.phase === 'draining') return
    const outcome = ours && drain.counts !== undefined ? { outcome: drain.phase, ...drain.counts } : undefined
    // No drain of this cut-over here: this process started after it, with nothing on the old groups.
    await this.#transition(service, rollout, (record, ctx) => complete(record, ctx, undefined, outcome))
  }

  /**
   * Commits a transition planned on the state as it is when the change runs: if the rollout moved
   * on meanwhile (an operator's action, another replica), nothing happens.
   */
  async #transition(service: string, expected: RolloutRecord, make: (record: RolloutRecord, ctx: StepContext) => PlannedChange): Promise<void> {
    try {
      await this.changes.apply({}, (state) => {
        const current = state.services[service]?.rollout
        if (current === undefined || current.id !== expected.id || current.window !== expected.window || current.phase !== expected.phase) throw new StaleRollout()
        return make(current, this.#context(service, state))
      })
    } catch (error) {
      if (error instanceof StaleRollout) return
      const code = error instanceof HttpError ? error.code : undefined
      this.logger.warn({ event: 'rollout_transition_failed', service, rollout: expected.id, code, err: error }, `rollout ${expected.id} of ${service} could not move on now; trying again`)
    }
  }

  #context(service: string, state: DesiredState): StepContext {
    return {
      service,
      groups: this.#groups(service),
      weights: state.services[service]?.weights ?? this.plane.weightsOf(service),
      time: new Date().toISOString(),
      window: randomBytes(6).toString('hex'),
    }
  }

  #groups(service: string): string[] {
    const config = this.plane.service(service)
    if (config === undefined) throw new HttpError('unknown_service', `unknown service "${service}"`)
    return config.groups.map((group) => group.name)
  }

  #liveInstances(service: string, group: string): number {
    return new Set(this.plane.snapshot.current.servicesByName.get(service)?.groupsByName.get(group)?.instances).size
  }

  #refuseWithoutLiveCanary(service: string, group: string): void {
    if (this.#liveInstances(service, group) === 0) {
      throw new HttpError('not_ready', `group ${group} of ${service} has no live instance (${this.plane.instancesOf(service, group).length} known): it cannot take a step`)
    }
  }
}
