import { Pool } from 'undici'
import type { LimitsConfig, ServiceConfig, TimeoutsConfig } from '../config/types.js'
import type { InstanceSpec } from '../routing/spec.js'
import { Instance, type InstanceId } from './instance.js'
import { ConnectionSlots } from './slots.js'

/** Connections of an instance that a cut-over detached: what still runs on them, when they are closed, how to cut them. */
export interface DetachedPool {
  /** Resolves once every detached connection is closed. */
  readonly closed: Promise<void>
  /** Requests queued or running on the detached connections. */
  running(): number
  /** Cuts what still runs (the drain deadline). */
  destroy(): void
}

/** A detach of an instance this process has no connections to: nothing runs, nothing to wait for. */
const NOTHING_DETACHED: DetachedPool = Object.freeze({ closed: Promise.resolve(), running: () => 0, destroy: () => {} })

interface ServicePools {
  readonly timeouts: TimeoutsConfig
  readonly limits: LimitsConfig
  readonly drainMs: number
}

/**
 * One data plane's connection pools: an Instance with its undici Pool (keep-alive, no pipelining)
 * and its connection slots per instance id. `retain()` gets the instances of every new snapshot; an instance no longer named
 * drains: no new requests, running ones complete, idle connections close, and what still runs after
 * its service's drainSeconds is destroyed.
 */
export class InstancePools {
  readonly #instances = new Map<InstanceId, Instance>()
  readonly #draining = new Set<Instance>()
  readonly #detached = new Set<Pool>()
  /** Settings by service name; a service a reload removed keeps its entry for its draining instances. */
  readonly #services = new Map<string, ServicePools>()

  constructor(services: readonly ServiceConfig[]) {
    this.reconfigure(services)
  }

  /**
   * A reload's settings. Instances of a service whose connection settings changed move to fresh
   * connections made with the new ones; the old connections finish their requests and close
   * (as a cut-over detaches them). New limits apply to the slots at once.
   */
  reconfigure(services: readonly ServiceConfig[]): void {
    const changed = new Set<string>()
    for (const service of services) {
      const before = this.#services.get(service.name)
      const after: ServicePools = { timeouts: service.timeouts, limits: service.limits, drainMs: service.drainSeconds * 1000 }
      this.#services.set(service.name, after)
      if (before !== undefined && poolKey(before) !== poolKey(after)) changed.add(service.name)
    }
    for (const instance of this.#instances.values()) {
      const settings = this.#services.get(instance.service)!
      const { limits, timeouts } = settings
      instance.slots.resize(limits.connectionsPerInstance, limits.queuePerInstance, timeouts.queueMs)
      if (changed.has(instance.service)) this.detach(instance.id)
    }
  }

  /** The Instance of `spec` in `service`, created with its pool on first use. */
  acquire(service: string, spec: InstanceSpec): Instance {
    let instance = this.#instances.get(spec.id)
    if (instance === undefined) {
      const { limits, timeouts } = this.#services.get(service)!
      const slots = new ConnectionSlots(limits.connectionsPerInstance, limits.queuePerInstance, timeouts.queueMs)
      instance = new Instance(spec.id, service, spec.address, spec.host, spec.port, this.#newPool(service, spec.address), slots)
      this.#instances.set(spec.id, instance)
    }
    return instance
  }

  /** Requests running on instance `id` in this data plane (0 when it has no pool here). */
  inflightOf(id: InstanceId): number {
    return this.#instances.get(id)?.inflight ?? 0
  }

  /** Every instance of the current snapshot (draining ones left out). */
  current(): IterableIterator<Instance> {
    return this.#instances.values()
  }

  #newPool(service: string, address: string): Pool {
    const { timeouts, limits } = this.#services.get(service)!
    return new Pool(`http://${address}`, {
      // As many as the slots let through, so requests wait in our queue (bounded), not undici's.
      connections: limits.connectionsPerInstance,
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
   * requests get a fresh pool, the old pool closes its idle connections now and each busy one after
   * its request.
   */
  detach(id: InstanceId): DetachedPool {
    const instance = this.#instances.get(id)
    if (instance === undefined) return NOTHING_DETACHED
    const old = instance.pool
    instance.pool = this.#newPool(instance.service, instance.address)
    this.#detached.add(old)
    const closed = old
      .close()
      .catch(() => {}) // close() rejects only when already destroyed: nothing is left to wait for.
      .finally(() => this.#detached.delete(old))
    return { closed, running: () => old.stats.size, destroy: () => void old.destroy().catch(() => {}) }
  }

  /** Drains every instance not in `inUse`, each within its service's drainSeconds. */
  retain(inUse: ReadonlySet<Instance>): void {
    for (const [id, instance] of this.#instances) {
      if (inUse.has(instance)) continue
      this.#instances.delete(id)
      this.#drain(instance)
    }
  }

  #drain(instance: Instance): void {
    instance.draining = true
    this.#draining.add(instance)
    // close() lets queued and running requests finish and closes idle sockets at once.
    const timer = setTimeout(() => void instance.pool.destroy().catch(() => {}), this.#services.get(instance.service)?.drainMs ?? 30_000)
    timer.unref()
    instance.pool
      .close()
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer)
        this.#draining.delete(instance)
      })
  }

  /** Closes everything: graceful within `graceMs`, then destroyed. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.#instances.values(), ...this.#draining].map((instance) => instance.pool)
    pools.push(...this.#detached)
    this.#instances.clear()
    await Promise.all(
      pools.map(async (pool) => {
        const timer = setTimeout(() => void pool.destroy().catch(() => {}), graceMs)
        timer.unref()
        await pool.close().catch(() => {}) // Already closing or destroyed: the timer covers it.
        clearTimeout(timer)
      }),
    )
  }
}

/** What an instance's undici pool is made with: when it changes, the pool is replaced. */
function poolKey(settings: ServicePools): string {
  const { timeouts, limits } = settings
  return `${limits.connectionsPerInstance}|${timeouts.connectMs}|${timeouts.headersMs}|${timeouts.idleMs}`
}
