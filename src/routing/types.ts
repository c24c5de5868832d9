import type { ServiceConfig } from '../config/types.js'

/** What instance choice reads about an instance: its current load. */
export interface Pickable {
  /** Requests sent to this instance that have not finished yet. */
  readonly inflight: number
}

/** One version group of a service inside a snapshot. */
export interface GroupRoute<I> {
  readonly name: string
  /** hashString(name), worked out once for rendezvous. */
  readonly hash: number
  /** Desired weight, as set (not normalised). */
  readonly weight: number
  /** Share of new traffic this group receives in this snapshot (0..1; 0 without live instances). */
  readonly share: number
  /** Live instances only: healthy, ready, not draining, not ejected. */
  readonly instances: readonly I[]
  /** A cut-over is draining this group: no override reaches it. */
  readonly draining: boolean
}

/** A service inside a snapshot: everything a request needs, worked out in advance. */
export interface ServiceRoute<I> {
  readonly name: string
  readonly config: ServiceConfig
  /** Every configured group, in config order (for overrides and status). */
  readonly groups: readonly GroupRoute<I>[]
  readonly groupsByName: ReadonlyMap<string, GroupRoute<I>>
  /** Groups that take new traffic: weight > 0 and at least one live instance. */
  readonly candidates: readonly GroupRoute<I>[]
  /** Groups with weight > 0, live instances or not: a key's home group is chosen among them. */
  readonly weighted: readonly GroupRoute<I>[]
}

/**
 * An immutable, versioned routing snapshot. The data plane reads `current` once per request and
 * keeps that table for the whole request; a change builds a new table and swaps it in.
 */
export interface RouteTable<I> {
  readonly revision: number
  readonly services: readonly ServiceRoute<I>[]
  readonly servicesByName: ReadonlyMap<string, ServiceRoute<I>>
}
