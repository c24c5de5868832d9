import { isBrokenCircuitError } from 'cockatiel'
import { GRPCDeadlineExceededError, isRecoverableError, type Etcd3, type IKeyValue } from 'etcd3'
import type { Logger } from '../support/log.js'
import { describeError } from './etcd-client.js'
import { PENDING_REVISION, encodeState, settleRevisions } from './etcd-codec.js'
import type { StateDecoder } from './etcd-state-decoder.js'
import { StateError, StoreUnavailableError, applyChange, type Change, type CommitOutcome, type DesiredState } from './store.js'

/**
 * The state key as this replica knows it: its store revision as last seen (0: absent), a change
 * written as a compare-and-set on it, and what a watched write of it means. A replica learns of
 * its own writes from their commit, so the watch hands on only states newer than that.
 */
export class StateKey {
  #revision = 0

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly decoder: StateDecoder,
    /** Names the store in errors. */
    private readonly description: string,
    private readonly logger: Logger,
  ) {}

  /** The store revision as last seen; 0 while the key is absent. */
  get revision(): number {
    return this.#revision
  }

  /** A full load of the prefix found `state` (undefined: the key is absent). */
  loaded(state: DesiredState | undefined): void {
    this.#revision = state?.revision ?? 0
  }

  /** Writes `change` on top of `base` if nobody wrote the key since; else returns what is there. */
  async commit(base: DesiredState, change: Change): Promise<CommitOutcome> {
    const next = applyChange(base, change, PENDING_REVISION)
    let response
    try {
      // Nothing stored yet (or the key was deleted): only a first write may create it.
      const guard = this.#revision === 0 ? this.client.if(this.key, 'Version', '==', 0) : this.client.if(this.key, 'Mod', '==', base.revision)
      response = await guard.then(this.client.put(this.key).value(encodeState(next))).else(this.client.get(this.key)).commit()
    } catch (error) {
      if ((error instanceof Error && isRecoverableError(error)) || error instanceof GRPCDeadlineExceededError || isBrokenCircuitError(error)) {
        throw new StoreUnavailableError(`cannot write to etcd: ${describeError(error)}; the change may or may not have been applied, check the revision`, 'unknown')
      }
      throw new StateError(this.description, `cannot write: ${describeError(error)}`, 'store')
    }
    if (response.succeeded) {
      const state = settleRevisions(next, Number(response.header.revision))
      this.#revision = Math.max(this.#revision, state.revision)
      return { committed: true, state }
    }
    const kv = response.responses[0]?.response_range?.kvs[0]
    if (kv === undefined) {
      this.#revision = 0
      return { committed: false, current: base }
    }
    const current = await this.decoder.decode(kv)
    this.#revision = Math.max(this.#revision, current.revision)
    return { committed: false, current }
  }

  /** The state stored now (a read, not the watch), or undefined when it is absent or cannot be read. */
  async read(): Promise<DesiredState | undefined> {
    try {
      const response = await this.client.get(this.key).exec()
      const kv = response.kvs[0]
      return kv === undefined ? undefined : await this.decoder.decode(kv)
    } catch {
      return undefined
    }
  }

  /** A watched write (or delete) of the key at `revision`: a newer, usable state goes to `deliver`. */
  async watched(kv: IKeyValue, revision: number, deleted: boolean, deliver: (state: DesiredState) => void): Promise<void> {
    if (deleted) {
      this.#revision = 0
      this.logger.warn({ event: 'state_deleted', key: this.key }, 'the desired state was deleted from etcd; keeping the last applied one')
      return
    }
    // A write of this replica's own is known from its commit already.
    if (revision <= this.#revision) return
    try {
      const state = await this.decoder.decode(kv)
      this.#revision = Math.max(this.#revision, state.revision)
      deliver(state)
    } catch (error) {
      this.logger.error({ event: 'state_unusable', revision, err: error }, 'a state written to etcd cannot be used; keeping the last applied one')
    }
  }
}
