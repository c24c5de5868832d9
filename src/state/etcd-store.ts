import { isBrokenCircuitError } from 'cockatiel'
import type { Etcd3 } from 'etcd3'
import type { Logger } from '../support/log.js'
import { Serial } from '../support/serial.js'
import { Coalesced } from './coalesced.js'
import { createEtcdClient, describeError } from './etcd-client.js'
import { classifyKey, etcdKeys, type EtcdKeys } from './etcd-codec.js'
import { DriverElection } from './etcd-driver.js'
import { ReplicaLease } from './etcd-lease.js'
import { EtcdMembership } from './etcd-membership.js'
import { Reconnector } from './etcd-reconnect.js'
import { StateDecoder, type ConfigInForce } from './etcd-state-decoder.js'
import { StateKey } from './etcd-state-key.js'
import { PrefixWatch } from './etcd-watch.js'
import { FileStore } from './file-store.js'
import { defaultReplicaId, type CountsRecord, type DrainRecord, type ReplicaRecord, type SharedStore, type SharedStoreListener, type StateSource } from './shared.js'
import { StoreUnavailableError, type Change, type CommitOutcome, type DesiredState } from './store.js'

/** How often a replica that sees no driver tries to become it (besides when the driver key goes). */
const CAMPAIGN_EVERY_MS = 1_000

export interface EtcdStoreOptions {
  readonly endpoints: readonly string[]
  readonly prefix: string
  readonly cachePath: string
  readonly replicaId?: string
  readonly leaseSeconds: number
  readonly timeoutMs: number
  /** Each service of the config in force (a reload changes it) with its weights and groups: what a state read from etcd is fitted to. */
  readonly config: ConfigInForce
  readonly logger: Logger
}

/**
 * The desired state in etcd, shared by every replica (layout: etcd-codec.ts). A change is a
 * transaction that writes the whole state only if the key's mod_revision is still the one the
 * change was computed on. Each replica watches the prefix and hands every newer state to its
 * listener; when the watch is lost (etcd down, compaction) it reconnects with backoff and reloads
 * the prefix in full. Membership and drain reports live under a lease, so a replica that is gone
 * drops out by itself. The last applied state is cached in a file for starts while etcd is down.
 * Its parts live beside it in etcd-*.ts: the state key's reads and writes (etcd-state-key.ts), the
 * watch (etcd-watch.ts), the lease, the reconnect timing, membership and the driver election.
 */
export class EtcdStore implements SharedStore {
  readonly kind = 'etcd'
  readonly replicaId: string
  readonly description: string
  readonly #options: EtcdStoreOptions
  readonly #keys: EtcdKeys
  readonly #client: Etcd3
  readonly #decoder: StateDecoder
  readonly #stateKey: StateKey
  readonly #cache: FileStore
  readonly #members: EtcdMembership
  readonly #cacheWriter: Coalesced
  #listener: SharedStoreListener | undefined
  #connected = false
  #source: StateSource = 'config'
  #lastError: string | undefined
  #applied: DesiredState | undefined
  readonly #lease: ReplicaLease
  readonly #watch: PrefixWatch
  readonly #serial = new Serial()
  readonly #reconnect = new Reconnector(() => this.#enqueue(() => this.#reconnectNow()))
  #closed = false
  readonly #election: DriverElection
  #campaigner: NodeJS.Timeout | undefined

  constructor(options: EtcdStoreOptions) {
    this.#options = options
    this.replicaId = options.replicaId ?? defaultReplicaId()
    this.#keys = etcdKeys(options.prefix)
    this.description = `etcd ${options.endpoints.join(',')} ${this.#keys.state}`
    this.#decoder = new StateDecoder(this.description, options.config, options.logger)
    this.#cache = new FileStore(options.cachePath)
    this.#client = createEtcdClient(options.endpoints, options.timeoutMs)
    this.#stateKey = new StateKey(this.#client, this.#keys.state, this.#decoder, this.description, options.logger)
    this.#lease = new ReplicaLease(this.#client, options.leaseSeconds, (error) => {
      // The driver key went with the lease: this replica drives nothing until it wins the key again.
      this.#election.leaseLost()
      this.#lost(`lease lost: ${describeError(error)}`)
    })
    this.#members = new EtcdMembership(
      this.#keys,
      this.replicaId,
      { lease: () => this.#lease.current, connected: () => this.#connected, appliedRevision: () => this.#applied?.revision ?? 0 },
      options.logger,
    )
    this.#election = new DriverElection(this.#client, this.#keys.driver, this.replicaId, { lease: () => this.#lease.current, connected: () => this.#connected }, options.logger)
    this.#watch = new PrefixWatch(this.#client, this.#keys, options.timeoutMs, {
      state: (kv, revision, deleted) => this.#stateKey.watched(kv, revision, deleted, (state) => this.#listener?.state(state)),
      driver: (holder) => this.#driverEvent(holder),
      member: (kv, key, deleted) => {
        if (this.#members.take(kv, key, deleted)) this.#listener?.membership()
      },
      lost: (reason) => this.#lost(reason),
      enqueue: (task) => this.#enqueue(task),
    })
    this.#cacheWriter = new Coalesced(async () => {
      if (this.#applied !== undefined) await this.#cache.save(this.#applied)
    })
  }

  get connected(): boolean {
    return this.#connected
  }

  get storeRevision(): number {
    return this.#stateKey.revision
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
    this.#decoder.warm()
    await this.#cache.prepare()
    try {
      const loaded = await this.#serial.run(() => this.#connect())
      this.#source = 'store'
      this.#startCampaigns()
      return loaded
    } catch (error) {
      this.#lastError = describeError(error)
      this.#reconnect.schedule()
      this.#startCampaigns()
      const cached = await this.#cache.load().catch((problem: unknown) => {
        this.#options.logger.error({ event: 'state_cache_unusable', err: problem }, 'the state cache cannot be read; using the config\'s weights')
        return undefined
      })
      this.#source = cached === undefined ? 'config' : 'cache'
      if (cached === undefined) return undefined
      return this.#decoder.fit(cached)
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
    return this.#stateKey.commit(base, change)
  }

  /** The state in the store now (a read, not the watch), or undefined when it cannot be read. */
  async latest(): Promise<DesiredState | undefined> {
    if (!this.#connected) return undefined
    return this.#stateKey.read()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#reconnect.stop()
    clearInterval(this.#campaigner)
    this.#members.stop()
    this.#watch.drop()
    await this.#cacheWriter.idle()
    await this.#lease.end(this.#connected)
    this.#client.close()
    await this.#decoder.close()
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
      if (key.kind === 'state') state = await this.#decoder.decode(kv)
      else if (key.kind === 'driver') driver = kv.value.toString()
      else this.#members.take(kv, key, false)
    }
    this.#election.seen(driver)
    this.#stateKey.loaded(state)
    await this.#lease.ensure()
    await this.#watch.start(revision)
    this.#connected = true
    this.#source = 'store'
    this.#lastError = undefined
    this.#reconnect.reset()
    // The record says what this replica routes with: the loaded state, which it applies next.
    if (state !== undefined && (this.#applied === undefined || this.#applied.revision < state.revision)) this.#applied = state
    await this.#members.rewrite()
    if (this.#election.driver === undefined) await this.#election.campaign()
    this.#options.logger.info(
      { event: 'store_connected', store: 'etcd', revision: this.#stateKey.revision, replica: this.replicaId },
      `connected to etcd at store revision ${this.#stateKey.revision} as replica ${this.replicaId}`,
    )
    return state
  }

  /** After a reconnect: the listener catches up with what was missed. */
  #caughtUp(state: DesiredState | undefined): void {
    this.#listener?.membership()
    if (state !== undefined) this.#listener?.state(state)
  }

  /** The driver key changed (watched); undefined: it was deleted. */
  async #driverEvent(holder: string | undefined): Promise<void> {
    this.#election.seen(holder)
    // The driver left (its lease ended or was revoked): any replica may take over.
    if (holder === undefined && !this.#closed) await this.#election.campaign()
  }

  /** The heartbeat, and a campaign now and then while no replica drives (a lost race or a failed try). */
  #startCampaigns(): void {
    this.#members.startHeartbeat((this.#options.leaseSeconds * 1000) / 2)
    this.#campaigner = setInterval(() => {
      if (this.#election.driver === undefined && this.#connected && !this.#closed) this.#enqueue(() => this.#election.campaign())
    }, CAMPAIGN_EVERY_MS)
    this.#campaigner.unref()
  }

  /**
   * The watch or the lease is gone. Reconnects at once (another member may answer) and counts as
   * disconnected only if that fails: writes go on meanwhile, a watch is not needed for them.
   */
  #lost(reason: string): void {
    if (this.#closed) return
    this.#watch.drop()
    this.#lastError = reason
    this.#reconnect.schedule(0)
  }

  #down(reason: string): void {
    if (!this.#connected) return
    this.#connected = false
    this.#options.logger.warn(
      { event: 'store_disconnected', store: 'etcd', reason },
      `lost etcd (${reason}); routing stays on revision ${this.#applied?.revision ?? 0}, changes are refused until it is back`,
    )
  }

  /** A due reconnect: reload and watch again, or count as disconnected and back off. */
  async #reconnectNow(): Promise<void> {
    if (this.#closed || this.#watch.active) return
    try {
      this.#caughtUp(await this.#connect())
    } catch (error) {
      // An open circuit breaker only says the last error happened again; keep that one.
      if (!isBrokenCircuitError(error) || this.#lastError === undefined) this.#lastError = describeError(error)
      this.#down(this.#lastError)
      this.#reconnect.schedule()
    }
  }

  #enqueue(task: () => Promise<unknown>): void {
    void this.#serial.run(task).catch((error: unknown) => this.#options.logger.error({ event: 'store_event_failed', err: error }, 'handling an etcd event failed'))
  }
}
