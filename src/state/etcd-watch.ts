import type { Etcd3, IKeyValue, Watcher } from 'etcd3'
import { describeError } from './etcd-client.js'
import { classifyKey, type EtcdKeys, type KeyKind } from './etcd-codec.js'

/** Where the watch's events go, sorted by what their key holds. */
export interface WatchEvents {
  /** The state key was written or deleted at `revision`. */
  state(kv: IKeyValue, revision: number, deleted: boolean): Promise<void>
  /** The driver key's holder now; undefined when the key was deleted. */
  driver(holder: string | undefined): Promise<void>
  /** A replica's record or one of its reports came, changed or went. */
  member(kv: IKeyValue, key: KeyKind, deleted: boolean): void
  /** The watch is gone (its stream broke, or etcd cancelled it): the store drops it and reloads. */
  lost(reason: string): void
  /** Runs a task in the store's one-at-a-time order, so events are handled in revision order. */
  enqueue(task: () => Promise<unknown>): void
}

/**
 * The watch of the store's prefix: started from just after the revision a full load saw, it hands
 * each newer event to the store once, and reports its loss so the store reloads and starts anew.
 */
export class PrefixWatch {
  #watcher: Watcher | undefined
  /** Events at or below this revision are already in what was loaded. */
  #seen = 0

  constructor(
    private readonly client: Etcd3,
    private readonly keys: EtcdKeys,
    /** How long etcd may take to accept the watch. */
    private readonly timeoutMs: number,
    private readonly events: WatchEvents,
  ) {}

  /** Whether a watch is running (started and not lost or dropped). */
  get active(): boolean {
    return this.#watcher !== undefined
  }

  /** Watches the prefix from just after `loadedRevision`, the revision the full load saw. */
  async start(loadedRevision: number): Promise<void> {
    this.#seen = loadedRevision
    const watcher = await this.#open(loadedRevision + 1)
    watcher.on('put', (kv) => this.events.enqueue(() => this.#event(kv, false)))
    watcher.on('delete', (kv) => this.events.enqueue(() => this.#event(kv, true)))
    watcher.on('disconnected', (error: unknown) => this.events.lost(`watch: ${describeError(error)}`))
    // A cancelled watch (its revision was compacted): a full reload catches up.
    watcher.on('error', (error: unknown) => this.events.lost(`watch cancelled: ${describeError(error)}`))
    this.#watcher = watcher
  }

  /** Stops the watch, if any; nothing of it reaches the store afterwards. */
  drop(): void {
    const watcher = this.#watcher
    this.#watcher = undefined
    if (watcher === undefined) return
    watcher.removeAllListeners()
    watcher.on('error', () => {})
    void watcher.cancel().catch(() => {})
  }

  /**
   * A watch of the prefix from `fromRevision`. A stream has no call deadline, so the wait for etcd
   * to accept it is bounded here: a member that takes connections but does not answer (frozen,
   * overloaded) must not hold the start or a reconnect forever.
   */
  async #open(fromRevision: number): Promise<Watcher> {
    const watcher = this.client.watch().prefix(this.keys.prefix).startRevision(String(fromRevision)).watcher()
    // Only this wait's own listeners come off afterwards: the watcher has internal ones of its own.
    let onConnected = (): void => {}
    let onError = (_error: unknown): void => {}
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`etcd did not start the watch within ${this.timeoutMs} ms`)), this.timeoutMs)
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
    const key = classifyKey(this.keys, kv.key.toString())
    if (key.kind === 'state') await this.events.state(kv, revision, deleted)
    else if (key.kind === 'driver') await this.events.driver(deleted ? undefined : kv.value.toString())
    else this.events.member(kv, key, deleted)
  }
}
