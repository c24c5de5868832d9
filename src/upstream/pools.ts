import { Pool } from 'undici'
import type { TimeoutsConfig } from '../config/types.js'
import { formatAddress, type InstanceAddress } from '../discovery/types.js'
import type { Pickable } from '../routing/types.js'
import type { FailureKind } from '../proxy/errors.js'

/**
 * One instance as the data plane sees it: its connection pool and its live load. Snapshots hold
 * these objects; the same Upstream survives from snapshot to snapshot while the instance stays.
 */
export class Upstream implements Pickable {
  /** Requests dispatched and not yet finished; read by instance choice (P2C). */
  inflight = 0
  /** Set once the instance left every snapshot; it only finishes what it has. */
  draining = false
  // Outcome counters: the data plane only bumps them; health reads them and decides.
  /** Failed attempts in a row (connect, reset, timeout); reset by any response. */
  consecutiveFailures = 0
  /** 5xx responses in a row; reset by a response below 500. */
  consecutive5xx = 0
  /** Responses received, any status. */
  responses = 0
  /** Failed attempts by kind, since start. */
  readonly failures: Record<FailureKind, number> = { connect: 0, reset: 0, timeout: 0, other: 0 }
  /** Called after every failed attempt; health installs it to react at once (e.g. eject). */
  onFailure: ((upstream: Upstream, kind: FailureKind) => void) | undefined = undefined

  constructor(
    readonly serviceName: string,
    readonly key: string,
    readonly endpoint: InstanceAddress,
    /** Replaced by a fresh pool when a drain detaches the old one (see UpstreamRegistry.detachPool). */
    public pool: Pool,
  ) {}
}

/**
 * The same instance's detached pools in other processes (cluster workers), as a drain sees them.
 * See UpstreamRegistry.remoteDetach.
 */
export interface RemoteDetach {
  /** Resolves once every remote pool is closed. */
  readonly closed: Promise<void>
  /** Requests still queued or running on them. */
  running(): number
  /** Cuts what still runs (drain deadline). */
  destroy(): void
}

/** A pool a drain detached: what still runs on it, when it is closed, and how to cut it. */
export interface DetachedPool {
  /** The local pool. */
  readonly pool: Pool
  /** Resolves once the local pool (and the remote ones, in cluster mode) is closed. */
  readonly closed: Promise<void>
  /** Requests queued or running on the local pool and the remote ones. */
  running(): number
  /** Destroys the local pool and the remote ones. */
  destroy(): void
}

/**
 * Owns one undici Pool per instance (keep-alive, no pipelining). `retain()` is called with the
 * instances of every new snapshot; instances no longer used drain: no new requests, in-flight ones
 * complete, idle connections close, and after the drain deadline the rest is destroyed.
 */
export class UpstreamRegistry {
  readonly #upstreams = new Map<string, Upstream>()
  readonly #draining = new Set<Upstream>()
  readonly #detached = new Set<Pool>()
  /**
   * Set by cluster mode in the primary: detaches the instance's pools in the workers too, where
   * the requests actually run. Unset in a single process.
   */
  remoteDetach: ((upstream: Upstream) => RemoteDetach) | undefined = undefined

  constructor(private readonly timeoutsFor: (serviceName: string) => TimeoutsConfig) {}

  /** The Upstream of `endpoint` for `serviceName`, created on first use. */
  acquire(serviceName: string, endpoint: InstanceAddress): Upstream {
    const key = `${serviceName}|${formatAddress(endpoint)}`
    let upstream = this.#upstreams.get(key)
    if (upstream === undefined) {
      upstream = new Upstream(serviceName, formatAddress(endpoint), endpoint, this.#newPool(serviceName, endpoint))
      this.#upstreams.set(key, upstream)
    }
    return upstream
  }

  #newPool(serviceName: string, endpoint: InstanceAddress): Pool {
    const timeouts = this.timeoutsFor(serviceName)
    return new Pool(`http://${formatAddress(endpoint)}`, {
      connections: 256,
      pipelining: 1,
      connectTimeout: timeouts.connectMs,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
    })
  }

  /**
   * Drains the connections of an instance that stays known (a group cut over away from): later
   * requests get a fresh pool, the old pool closes its idle connections now and each busy one
   * after its request. Returns the old pool (to count what runs on it, and to destroy it at the
   * drain deadline) and a promise that resolves once it is closed; with `remoteDetach` set, the
   * workers' pools of the instance are counted, awaited and destroyed with it.
   */
  detachPool(upstream: Upstream): DetachedPool {
    const old = upstream.pool
    upstream.pool = this.#newPool(upstream.serviceName, upstream.endpoint)
    this.#detached.add(old)
    const closed = old
      .close()
      .catch(() => {})
      .finally(() => this.#detached.delete(old))
    const destroyLocal = () => void old.destroy().catch(() => {})
    const remote = this.remoteDetach?.(upstream)
    if (remote === undefined) return { pool: old, closed, running: () => old.stats.size, destroy: destroyLocal }
    return {
      pool: old,
      closed: Promise.all([closed, remote.closed]).then(() => {}),
      running: () => old.stats.size + remote.running(),
      destroy: () => {
        destroyLocal()
        remote.destroy()
      },
    }
  }

  /** Drains every Upstream not in `inUse`. */
  retain(inUse: ReadonlySet<Upstream>, drainMs: number): void {
    for (const [key, upstream] of this.#upstreams) {
      if (inUse.has(upstream)) continue
      this.#upstreams.delete(key)
      this.#drain(upstream, drainMs)
    }
  }

  #drain(upstream: Upstream, drainMs: number): void {
    upstream.draining = true
    this.#draining.add(upstream)
    // close() lets queued and running requests finish and closes idle sockets at once.
    const timer = setTimeout(() => void upstream.pool.destroy().catch(() => {}), drainMs)
    timer.unref()
    upstream.pool
      .close()
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer)
        this.#draining.delete(upstream)
      })
  }

  /** Instances currently draining (for status and tests). */
  get drainingCount(): number {
    return this.#draining.size
  }

  /** Closes everything: graceful within `graceMs`, then destroyed. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.#upstreams.values(), ...this.#draining].map((upstream) => upstream.pool)
    pools.push(...this.#detached)
    this.#upstreams.clear()
    await Promise.all(
      pools.map(async (pool) => {
        const timer = setTimeout(() => void pool.destroy().catch(() => {}), graceMs)
        timer.unref()
        await pool.close().catch(() => {})
        clearTimeout(timer)
      }),
    )
  }
}
