/**
 * Instances as this process sees them. The control side (control plane, health, status) knows an
 * instance by its id and address (KnownInstance); a data plane holds an Instance object per id,
 * with its connection pool and its live load, which only that data plane writes.
 */
import type { Pool } from 'undici'
import type { InstanceSpec } from '../routing/spec.js'
import type { Pickable } from '../routing/types.js'
import type { ConnectionSlots } from './slots.js'

/** An instance's id: minted by the control plane when discovery reports the instance, never reused. */
export type InstanceId = number

/** An instance as discovery reports it to the control side: id, address, service and group. */
export interface KnownInstance extends InstanceSpec {
  readonly service: string
  readonly group: string
}

/**
 * One instance in one data plane: its pool and its load. Snapshots of that data plane hold these
 * objects; the same object lives from snapshot to snapshot while the instance stays known.
 * Written by the data plane only: `proxy/` counts load and outcomes, InstancePools swaps the pool.
 */
export class Instance implements Pickable {
  /** Requests assigned to the instance and not yet finished, sent or waiting for a connection; read by P2C. */
  inflight = 0
  /** Left every snapshot: it only finishes what it has. */
  draining = false
  /** Failed attempts in a row (connect, reset, timeout, other); any response resets it. */
  failuresInARow = 0
  /** 5xx responses in a row; a response below 500 resets it. */
  fivexxInARow = 0

  constructor(
    readonly id: InstanceId,
    readonly service: string,
    readonly address: string,
    readonly host: string,
    readonly port: number,
    /** Replaced by a fresh pool when a cut-over detaches the old one (InstancePools.detach). */
    public pool: Pool,
    /** How many requests may be sent at once, and the queue for the rest (pool protection). */
    readonly slots: ConnectionSlots,
  ) {}

  /** Forgets failure streaks that no longer say anything (the instance entered or left rotation). */
  resetStreaks(): void {
    this.failuresInARow = 0
    this.fivexxInARow = 0
  }
}
