/**
 * A rollout's analysis window in numbers: each replica counts its own traffic per group from the
 * moment it first sees the window (the counters the data side keeps anyway, read, never added to),
 * publishes it through the shared store, and the driver sums every replica's counts of the same
 * window. Reading the counters at the window's edges rather than the series' 2 s points keeps a
 * 2 s step exact.
 */
import type { CountsRecord, SharedStore, WindowCounts } from '../state/shared.js'
import type { StatsRegistry } from '../upstream/stats.js'
import { addCounts } from './rollout-rules.js'
import { groupTotals } from './series-math.js'

type GroupCounts = Readonly<Record<string, WindowCounts>>

interface OpenWindow {
  readonly window: string
  readonly baseline: GroupCounts
}

/** The sum of every replica's counts of one window. */
export interface WindowTotal {
  readonly groups: GroupCounts
  /** Replicas whose counts are in it (this one included). */
  readonly replicas: number
}

export class RolloutCounts {
  readonly #open = new Map<string, OpenWindow>()

  constructor(
    private readonly stats: StatsRegistry,
    /** The other replicas (etcd); undefined with a file store: this replica's counts are all. */
    private readonly peers: Pick<SharedStore, 'replicaId' | 'counts' | 'reportCounts'> | undefined,
    /** When this process started counting (ms since the epoch). */
    private readonly startedAtMs = Date.now(),
  ) {}

  /**
   * Starts counting `window` of `service` unless it already is. A window that opened before this
   * process started (a restart mid-step) counts from the start: everything this process saw is in it.
   */
  open(service: string, window: string, windowStartedAt: string): void {
    if (this.#open.get(service)?.window === window) return
    const before = Date.parse(windowStartedAt) < this.startedAtMs
    this.#open.set(service, { window, baseline: before ? {} : this.#read(service) })
  }

  /** Stops counting `service` (its rollout no longer runs). */
  close(service: string): void {
    this.#open.delete(service)
  }

  /** This replica's counts of the window open for `service`, or undefined when it is not `window`. */
  local(service: string, window: string): GroupCounts | undefined {
    const open = this.#open.get(service)
    if (open?.window !== window) return undefined
    const now = this.#read(service)
    const counts: Record<string, WindowCounts> = {}
    for (const [group, current] of Object.entries(now)) {
      const base = open.baseline[group]
      counts[group] = base === undefined ? current : subtract(current, base)
    }
    return counts
  }

  /** Writes this replica's counts of the open window for the other replicas (no-op without any). */
  publish(service: string): void {
    const open = this.#open.get(service)
    if (open === undefined || this.peers === undefined) return
    this.peers.reportCounts({ service, window: open.window, groups: this.local(service, open.window)! })
  }

  /** Every replica's counts of `window`, summed: this one's now, the others' as last published. */
  total(service: string, window: string): WindowTotal {
    const own = this.local(service, window) ?? {}
    const records: CountsRecord[] = []
    if (this.peers !== undefined) {
      for (const record of this.peers.counts(service)) if (record.window === window && record.replica !== this.peers.replicaId) records.push(record)
    }
    const groups: Record<string, WindowCounts> = { ...own }
    for (const record of records) {
      for (const [group, counts] of Object.entries(record.groups)) groups[group] = addCounts(groups[group], counts)
    }
    return { groups, replicas: records.length + 1 }
  }

  #read(service: string): GroupCounts {
    const counts: Record<string, WindowCounts> = {}
    for (const [group, stats] of this.stats.forService(service)) counts[group] = groupTotals(stats)
    return counts
  }
}

function subtract(a: WindowCounts, b: WindowCounts): WindowCounts {
  return {
    requests: a.requests - b.requests,
    answered5xx: a.answered5xx - b.answered5xx,
    upstreamFailures: a.upstreamFailures - b.upstreamFailures,
    durations: a.durations.map((count, i) => count - (b.durations[i] ?? 0)),
  }
}
