import type { IKeyValue } from 'etcd3'
import type { Logger } from '../support/log.js'
import { StandingWorker } from '../support/off-thread.js'
import { describeError } from './etcd-client.js'
import { settleRevisions } from './etcd-codec.js'
import { overlayConfig } from './merge.js'
import { StateError, type DesiredState, type Weights } from './store.js'

// zod-based; runs in a standing worker thread (see off-thread.ts for why).
const PARSE_MODULE = new URL('../validation/state.js', import.meta.url)

/** Each service of the config in force (a reload changes it) with its weights and groups. */
export type ConfigInForce = () => ReadonlyMap<string, { readonly weights: Weights; readonly groups: readonly string[] }>

/**
 * Turns the state key's value into a DesiredState this replica can route with: parsed and checked
 * off the serving thread, its pending revisions settled to the key's mod_revision, and fitted to
 * the config in force (another replica may run a different one).
 */
export class StateDecoder {
  readonly #parser = new StandingWorker(PARSE_MODULE, 'parseState', (thrown) => new Error(String(thrown.fields.problem ?? thrown.message)))

  constructor(
    /** Names the store in errors, with the revision read. */
    private readonly description: string,
    private readonly config: ConfigInForce,
    private readonly logger: Logger,
  ) {}

  /** Starts the parser's thread now, so the first real read does not wait for it. */
  warm(): void {
    this.#parser.warm('{}', 'warm-up')
  }

  /** The state a key-value of the state key holds; a StateError when it cannot be used. */
  async decode(kv: IKeyValue): Promise<DesiredState> {
    const source = `${this.description}@${String(kv.mod_revision)}`
    let parsed: DesiredState
    try {
      parsed = (await this.#parser.call([kv.value.toString(), source])) as DesiredState
    } catch (error) {
      throw new StateError(source, describeError(error), 'store')
    }
    return this.fit(settleRevisions(parsed, Number(kv.mod_revision)))
  }

  /** `state` fitted to this replica's config; a mismatch is logged, not refused. */
  fit(state: DesiredState): DesiredState {
    const { state: fitted, problems } = overlayConfig(state, this.config())
    if (problems.length > 0) {
      this.logger.warn({ event: 'state_mismatch', revision: state.revision, problems }, `the shared state does not fit this replica's config: ${problems.join('; ')}`)
    }
    return fitted
  }

  async close(): Promise<void> {
    await this.#parser.close()
  }
}
