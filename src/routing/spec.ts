/**
 * The snapshot spec: a routing snapshot as plain data, the contract between the control plane and
 * every data plane. The control plane builds one from its facts and publishes it; each data plane
 * (the single process's, or each worker's over IPC as JSON) turns it into its own RouteTable over its
 * own connection pools. Instances are named by id and address, never by object.
 */

/** One instance in a spec: its id (minted by the control plane, stable while discovery knows it) and where it listens. */
export interface InstanceSpec {
  readonly id: number
  /** `host:port`, IPv6 hosts in brackets: how logs and answers name the instance. */
  readonly address: string
  readonly host: string
  readonly port: number
}

export interface GroupSpec {
  readonly name: string
  /** Desired weight, as set. */
  readonly weight: number
  /** Live instances in snapshot order; an instance in slow start is listed fewer times than the others. */
  readonly live: readonly InstanceSpec[]
  /**
   * Instances discovery knows that are not live (starting, unhealthy, ejected): a data plane keeps
   * their connections, so an ejection does not cut the requests already running on them.
   */
  readonly standby: readonly InstanceSpec[]
  /** A cut-over is draining the group: no override reaches it. */
  readonly draining: boolean
}

export interface ServiceSpec {
  readonly name: string
  /** Every group of the service, in config order. */
  readonly groups: readonly GroupSpec[]
}

export interface SnapshotSpec {
  /** The control plane's snapshot revision. */
  readonly revision: number
  readonly services: readonly ServiceSpec[]
}
