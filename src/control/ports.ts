/**
 * What the control side needs of the data side, as an interface it owns: the single process's
 * data plane fits it, and so does the cluster primary's view of its workers. Control never holds
 * a connection pool; it reads counters and asks for drains through this port.
 */
import type { InstanceId } from '../upstream/instance.js'
import type { DetachedPool } from '../upstream/pools.js'
import type { StatsRegistry } from '../upstream/stats.js'
import type { WeightsFromState } from './weights-source.js'

export interface DataPlaneLink {
  /** Traffic counters per service and group, summed over every data plane (`/metrics`). */
  readonly stats: StatsRegistry
  /** Requests running on an instance now, over every data plane (status). */
  inflightOf(id: InstanceId): number
  /**
   * Moves an instance to fresh connections in every data plane (a cut-over's drain): its old
   * connections finish their requests, and the handle counts, awaits and cuts them.
   */
  detach(id: InstanceId): DetachedPool
}

/**
 * Whether an instance accepts a TCP connection now. A cut-over asks it of its target group, so a
 * group without health checks is not given all the traffic while nothing listens.
 */
export type ConnectProbe = (address: { readonly host: string; readonly port: number }) => Promise<boolean>

/** What a reload changed, as `POST /v1/reload` answers it. */
export interface ReloadSummary {
  /** The config file read. */
  readonly file: string
  readonly services: {
    readonly added: readonly string[]
    readonly removed: readonly string[]
    /** Services whose settings, groups or instances changed. */
    readonly changed: readonly string[]
    readonly unchanged: readonly string[]
  }
  /** Services whose desired weights (the state store's) differ from the file's: they keep winning. */
  readonly weightsFromState: readonly WeightsFromState[]
  /** Every service's listener after the reload. */
  readonly listening: readonly { readonly service: string; readonly host: string; readonly port: number }[]
  /** The certificates in use, as read again. */
  readonly certificates: readonly { readonly file: string; readonly subject: string; readonly validTo: string; readonly expired: boolean }[]
}

/**
 * Re-reads the config file and applies it whole (the wiring in main.ts does it). A config that
 * cannot be used changes nothing and rejects with a ConfigError naming the field.
 */
export type ConfigReload = () => Promise<ReloadSummary>
