import { ConsecutiveBreaker, circuitBreaker, handleWhen, isBrokenCircuitError, retry } from 'cockatiel'
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type IKeyValue, type Lease, type Watcher } from 'etcd3'
import type { Logger } from '../support/log.js'
import { Serial } from '../support/serial.js'
import { StandingWorker } from '../support/off-thread.js'
import { Coalesced } from './coalesced.js'
import { DriverElection } from './etcd-driver.js'
import { EtcdMembership } from './etcd-membership.js'
import { PENDING_REVISION, classifyKey, encodeState, etcdKeys, settleRevisions, type EtcdKeys } from './etcd-codec.js'
import { FileStore } from './file-store.js'
import { overlayConfig } from './merge.js'
import { defaultReplicaId, type CountsRecord, type DrainRecord, type ReplicaRecord, type SharedStore, type SharedStoreListener, type StateSource } from './shared.js'
import { StateError, StoreUnavailableError, applyChange, type Change, type CommitOutcome, type DesiredState, type Weights } from './store.js'

// zod-based; runs in a standing worker thread (see off-thread.ts for why).
const PARSE_MODULE = new URL('../validation/state.js', import.meta.url)

/** How often a replica that sees no driver tries to become it (besides when the driver key goes). */
const CAMPAIGN_EVERY_MS = 1_000

/** Reconnect delays: quick first, then doubling up to the cap. */
const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5_000

export interface EtcdStoreOptions {
  readonly endpoints: readonly string[]
  readonly prefix: string
  readonly cachePath: string
  readonly replicaId?: string
  readonly leaseSeconds: number
  readonly timeoutMs: number
  /** Each service of the config in force (a reload changes it) with its weights and groups: what a state read from etcd is fitted to. */
  readonly config: () => ReadonlyMap<string, { readonly weights: Weights; readonly groups: readonly string[] }>
  readonly logger: Logger
}

/**
 * The desired state in etcd, shared by every replica (layout: etcd-codec.ts). A change is a
 * transaction that writes the whole state only if the key's mod_revision is still the one the
 * change was computed on. Each replica watches the prefix and hands every newer state to its
 * listener; when the watch is lost (etcd down, compaction) it reconnects with backoff and reloads
 * the prefix in full. Membership and drain reports live under a lease, so a replica that is gone
 * drops out by itself. The last applied state is cached in a file for starts while etcd is down.
 */
export class EtcdStore implements SharedStore {
  readonly kind = 'etcd'
  readonly replicaId: string
  readonly description: string
  readonly #options: EtcdStoreOptions
  readonly #keys: EtcdKeys
  readonly #client: Etcd3
  readonly #parser = new StandingWorker(PARSE_MODULE, 'parseState', (thrown) => new Error(String(thrown.fields.problem ?? thrown.message)))
  readonly #cache: FileStore
  readonly #members: EtcdMembership
  readonly #cacheWriter: Coalesced
  #listener: SharedStoreListener | undefined
  #connected = false
  #source: StateSource = 'config'
  #lastError: string | undefined
  #storeRevision = 0
  /** Events at or below this revision are already in what was loaded. */
  #seen = 0
  #applied: DesiredState | undefined
  #lease: Lease | undefined
  #watcher: Watcher | undefined
  readonly #serial = new Serial()
  #reconnect: NodeJS.Timeout | undefined
  #backoffMs = BACKOFF_FIRST_MS
  #closed = false
  readonly #election: DriverElection
  #campaigner: NodeJS.Timeout | undefined

  constructor(options: EtcdStoreOptions) {
    this.#options = options
    this.replicaId = options.replicaId ?? defaultReplicaId()
    this.#keys = etcdKeys(options.prefix)
    this.description = `etcd ${options.endpoints.join(',')} ${this.#keys.state}`
    this.#cache = new FileStore(options.cachePath)
    this.#client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: options.timeoutMs,
      // Streams (watch, keepalive) live long; every other call has the store's timeout.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + options.timeoutMs }),
      faultHandling: {
        // Up to two retries, each on another member (a commit retried after a lost answer is
        // recognised by its change id); a member failing three times in a row is skipped for a while.
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      },
    })
    this.#members = new EtcdMembership(
      this.#keys,
      this.replicaId,
      { lease: () => this.#lease, connected: () => this.#connected, appliedRevision: () => this.#applied?.revision ?? 0 },
      options.logger,
    )
    this.#election = new DriverElection(this.#client, this.#keys.driver, this.replicaId, { lease: () => this.#lease, connected: () => this.#connected }, options.logger)
    this.#cacheWriter = new Coalesced(async () => {
      if (this.#applied !== undefined) await this.#cache.save(this.#applied)
    })
  }

  get connected(): boolean {
    return this.#connected
  }

  get storeRevision(): number {
    return this.#storeRevision
  }

  get source(): StateSource {
    return this.#source
  }

  get lastError(): string | undefined {
    return this.#lastError
  }

  get driver(): string | undefined {
    return this.#election.driver
  }

  async open(listener: SharedStoreListener): Promise<DesiredState | undefined> {
    this.#listener = listener
    this.#parser.warm('{}', 'warm-up')
    await this.#cache.prepare()
    try {
      const loaded = await this.#serial.run(() => this.#connect())
      this.#source = 'store'
      this.#startCampaigns()
      return loaded
    } catch (error) {
      this.#lastError = describe(error)
      this.#scheduleReconnect()
      this.#startCampaigns()
      const cached = await this.#cache.load().catch((problem: unknown) => {
        this.#options.logger.error({ event: 'state_cache_unusable', err: problem }, 'the state cache cannot be read; using the config\'s weights')
        return undefined
      })
      this.#source = cached === undefined ? 'config' : 'cache'
      if (cached === undefined) return undefined
      return this.#fit(cached)
    }
  }

  replicas(): readonly ReplicaRecord[] {
    return this.#members.replicas()
  }

  drains(service: string): readonly DrainRecord[] {
    return this.#members.drains(service)
  }

  applied(state: DesiredState): void {
    this.#applied = state
    this.#members.touch()
    this.#cacheWriter.run()
  }

  reportDrain(record: Omit<DrainRecord, 'replica'>): void {
    this.#members.report(record)
  }

  counts(service: string): readonly CountsRecord[] {
    return this.#members.counts(service)
  }

  reportCounts(record: Omit<CountsRecord, 'replica'>): void {
    this.#members.reportCounts(record)
  }

  async commit(base: DesiredState, change: Change): Promise<CommitOutcome> {
    if (!this.#connected) {
      throw new StoreUnavailableError(`etcd (${this.#options.endpoints.join(', ')}) is unreachable (${this.#lastError ?? 'connecting'}); the change was not applied`, 'not_applied')
    }
    const next = applyChange(base, change, PENDING_REVISION)
    const key = this.#keys.state
    let response
    try {
      // Nothing stored yet (or the key was deleted): only a first write may create it.
      const guard = this.#storeRevision === 0 ? this.#client.if(key, 'Version', '==', 0) : this.#client.if(key, 'Mod', '==', base.revision)
      response = await guard.then(this.#client.put(key).value(encodeState(next))).else(this.#client.get(key)).commit()
    } catch (error) {
      if ((error instanceof Error && isRecoverableError(error)) || error instanceof GRPCDeadlineExceededError || isBrokenCircuitError(error)) {
        throw new StoreUnavailableError(`cannot write to etcd: ${describe(error)}; the change may or may not have been applied, check the revision`, 'unknown')
      }
      throw new StateError(this.description, `cannot write: ${describe(error)}`, 'store')
    }
    if (response.succeeded) {
      const state = settleRevisions(next, Number(response.header.revision))
      this.#storeRevision = Math.max(this.#storeRevision, state.revision)
      return { committed: true, state }
    }
    const kv = response.responses[0]?.response_range?.kvs[0]
    if (kv === undefined) {
      this.#storeRevision = 0
      return { committed: false, current: base }
    }
    const current = await this.#decodeState(kv)
    this.#storeRevision = Math.max(this.#storeRevision, current.revision)
    return { committed: false, current }
  }

  /** The state in the store now (a read, not the watch), or undefined when it cannot be read. */
  async latest(): Promise<DesiredState | undefined> {
    if (!this.#connected) return undefined
    try {
      const response = await this.#client.get(this.#keys.state).exec()
      const kv = response.kvs[0]
      return kv === undefined ? undefined : await this.#decodeState(kv)
    } catch {
      return undefined
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#reconnect)
    clearInterval(this.#campaigner)
    this.#members.stop()
    this.#dropWatch()
    await this.#cacheWriter.idle()
    // Revoking takes this replica's records away at once instead of at the lease's end.
    if (this.#connected) await this.#lease?.revoke().catch(() => {})
    else this.#lease?.release()
    this.#client.close()
    await this.#parser.close()
  }

  /** Loads the whole prefix, registers under a fresh lease, and watches from the revision loaded. */
  async #connect(): Promise<DesiredState | undefined> {
    const range = await this.#client.getAll().prefix(this.#keys.prefix).exec()
    const revision = Number(range.header.revision)
    let state: DesiredState | undefined
    let driver: string | undefined
    this.#members.clear()
    for (const kv of range.kvs) {
      const key = classifyKey(this.#keys, kv.key.toString())
      if (key.kind === 'state') state = await this.#decodeState(kv)
      else if (key.kind === 'driver') driver = kv.value.toString()
      else this.#members.take(kv, key, false)
    }
    this.#election.seen(driver)
    this.#storeRevision = state?.revision ?? 0
    this.#seen = revision
    if (this.#lease === undefined) {
      const lease = this.#client.lease(this.#options.leaseSeconds, { autoKeepAlive: true })
      lease.on('lost', (error) => {
        if (this.#lease !== lease) return
        this.#lease = undefined
        // The driver key went with the lease: this replica drives nothing until it wins the key again.
        this.#election.leaseLost()
        this.#lost(`lease lost: ${describe(error)}`)
      })
      this.#lease = lease
      await lease.grant()
    }
    const watcher = await this.#watch(revision + 1)
    watcher.on('put', (kv) => this.#enqueue(() => this.#event(kv, false)))
    watcher.on('delete', (kv) => this.#enqueue(() => this.#event(kv, true)))
    watcher.on('disconnected', (error: unknown) => this.#lost(`watch: ${describe(error)}`))
    // A cancelled watch (its revision was compacted): a full reload catches up.
    watcher.on('error', (error: unknown) => this.#lost(`watch cancelled: ${describe(error)}`))
    this.#watcher = watcher
    this.#connected = true
    this.#source = 'store'
    this.#lastError = undefined
    this.#backoffMs = BACKOFF_FIRST_MS
    // The record says what this replica routes with: the loaded state, which it applies next.
    if (state !== undefined && (this.#applied === undefined || this.#applied.revision < state.revision)) this.#applied = state
    await this.#members.rewrite()
    if (this.#election.driver === undefined) await this.#election.campaign()
    this.#options.logger.info(
      { event: 'store_connected', store: 'etcd', revision: this.#storeRevision, replica: this.replicaId },
      `connected to etcd at store revision ${this.#storeRevision} as replica ${this.replicaId}`,
    )
    return state
  }

  /** After a reconnect: the listener catches up with what was missed. */
  #caughtUp(state: DesiredState | undefined): void {
    this.#listener?.membership()
    if (state !== undefined) this.#listener?.state(state)
  }

  /**
   * A watch of the prefix from `fromRevision`. A stream has no call deadline, so the wait for etcd
   * to accept it is bounded here: a member that takes connections but does not answer (frozen,
   * overloaded) must not hold the start or a reconnect forever.
   */
  async #watch(fromRevision: number): Promise<Watcher> {
    const watcher = this.#client.watch().prefix(this.#keys.prefix).startRevision(String(fromRevision)).watcher()
    // Only this wait's own listeners come off afterwards: the watcher has internal ones of its own.
    let onConnected = (): void => {}
    let onError = (_error: unknown): void => {}
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`etcd did not start the watch within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs)
        onConnected = () => {
          clearTimeout(timer)
          resolve()
        }
        onError = (error) => {
          clearTimeout(timer)
          reject(error instanceof Error ? error : new Error(String(error)))
        }
        watcher.once('connected', onConnected)
        watcher.once('error', onError)
      })
    } catch (error) {
      watcher.on('error', () => {})
      void watcher.cancel().catch(() => {})
      throw error
    } finally {
      watcher.off('connected', onConnected)
      watcher.off('error', onError)
    }
    return watcher
  }

  /** One watch event, in revision order. */
  async #event(kv: IKeyValue, deleted: boolean): Promise<void> {
    const revision = Number(kv.mod_revision)
    // Several keys can change in one revision (a transaction; a lease's end deletes every key under
    // it at once): each of them is an event of that same revision.
    if (revision < this.#seen) return
    this.#seen = revision
    const key = classifyKey(this.#keys, kv.key.toString())
    if (key.kind === 'state') {
      if (deleted) {
        this.#storeRevision = 0
        this.#options.logger.warn({ event: 'state_deleted', key: this.#keys.state }, 'the desired state was deleted from etcd; keeping the last applied one')
        return
      }
      // A write of this replica's own is known from its commit already.
      if (revision <= this.#storeRevision) return
      try {
        const state = await this.#decodeState(kv)
        this.#storeRevision = Math.max(this.#storeRevision, state.revision)
        this.#listener?.state(state)
      } catch (error) {
        this.#options.logger.error({ event: 'state_unusable', revision, err: error }, 'a state written to etcd cannot be used; keeping the last applied one')
      }
      return
    }
    if (key.kind === 'driver') {
      this.#election.seen(deleted ? undefined : kv.value.toString())
      // The driver left (its lease ended or was revoked): any replica may take over.
      if (deleted && !this.#closed) await this.#election.campaign()
      return
    }
    if (this.#members.take(kv, key, deleted)) this.#listener?.membership()
  }

  /** The heartbeat, and a campaign now and then while no replica drives (a lost race or a failed try). */
  #startCampaigns(): void {
    this.#members.startHeartbeat((this.#options.leaseSeconds * 1000) / 2)
    this.#campaigner = setInterval(() => {
      if (this.#election.driver === undefined && this.#connected && !this.#closed) this.#enqueue(() => this.#election.campaign())
    }, CAMPAIGN_EVERY_MS)
    this.#campaigner.unref()
  }

  async #decodeState(kv: IKeyValue): Promise<DesiredState> {
    const source = `${this.description}@${String(kv.mod_revision)}`
    let parsed: DesiredState
    try {
      parsed = (await this.#parser.call([kv.value.toString(), source])) as DesiredState
    } catch (error) {
      throw new StateError(source, describe(error), 'store')
    }
    return this.#fit(settleRevisions(parsed, Number(kv.mod_revision)))
  }

  #fit(state: DesiredState): DesiredState {
    const { state: fitted, problems } = overlayConfig(state, this.#options.config())
    if (problems.length > 0) {
      this.#options.logger.warn({ event: 'state_mismatch', revision: state.revision, problems }, `the shared state does not fit this replica's config: ${problems.join('; ')}`)
    }
    return fitted
  }

  /**
   * The watch or the lease is gone. Reconnects at once (another member may answer) and counts as
   * disconnected only if that fails: writes go on meanwhile, a watch is not needed for them.
   */
  #lost(reason: string): void {
    if (this.#closed) return
    this.#dropWatch()
    this.#lastError = reason
    this.#scheduleReconnect(0)
  }

  #down(reason: string): void {
    if (!this.#connected) return
    this.#connected = false
    this.#options.logger.warn(
      { event: 'store_disconnected', store: 'etcd', reason },
      `lost etcd (${reason}); routing stays on revision ${this.#applied?.revision ?? 0}, changes are refused until it is back`,
    )
  }

  #dropWatch(): void {
    const watcher = this.#watcher
    this.#watcher = undefined
    if (watcher === undefined) return
    watcher.removeAllListeners()
    watcher.on('error', () => {})
    void watcher.cancel().catch(() => {})
  }

  #scheduleReconnect(delayMs?: number): void {
    if (this.#reconnect !== undefined || this.#closed) return
    const delay = delayMs ?? this.#backoffMs * (0.5 + Math.random() / 2)
    if (delayMs === undefined) this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS)
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined
      this.#enqueue(async () => {
        if (this.#closed || this.#watcher !== undefined) return
        try {
          this.#caughtUp(await this.#connect())
        } catch (error) {
          // An open circuit breaker only says the last error happened again; keep that one.
          if (!isBrokenCircuitError(error) || this.#lastError === undefined) this.#lastError = describe(error)
          this.#down(this.#lastError)
          this.#scheduleReconnect()
        }
      })
    }, delay)
    this.#reconnect.unref()
  }

  #enqueue(task: () => Promise<unknown>): void {
    void this.#serial.run(task).catch((error: unknown) => this.#options.logger.error({ event: 'store_event_failed', err: error }, 'handling an etcd event failed'))
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 300)
}
