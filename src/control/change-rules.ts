/** Cut-over and rollback decisions; pure (no I/O, no clock). */

import type { HistoryEntry, Weights } from '../state/store.js'

/** What a cut-over may look at about its target group. */
export interface CutoverTarget {
  readonly group: string
  /** Instances discovery knows for the group. */
  readonly known: number
  /** Of those, instances in the current snapshot (healthy, ready, not ejected). */
  readonly live: number
  /** Minimum live instances asked for; undefined means all known instances. */
  readonly minReady: number | undefined
}

/** Why a cut-over to `target` must be refused, or undefined when it may go ahead. */
export function refuseCutover(target: CutoverTarget): string | undefined {
  if (target.known === 0) return `group ${target.group} has no instances`
  if (target.live === 0) return `group ${target.group} has no live instance (0 of ${target.known} ready)`
  if (target.minReady === undefined) {
    if (target.live < target.known) {
      return `only ${target.live} of ${target.known} instances of group ${target.group} are ready (all are required; lower it with minReady)`
    }
    return undefined
  }
  if (target.live < target.minReady) {
    return `only ${target.live} of ${target.known} instances of group ${target.group} are ready, minReady is ${target.minReady}`
  }
  return undefined
}

/** The weights of a cut-over: the target takes everything, every other group drains. */
export function cutoverWeights(groups: readonly string[], to: string): Weights {
  const weights: Record<string, number> = Object.create(null) as Record<string, number>
  for (const group of groups) weights[group] = group === to ? 100 : 0
  return Object.freeze(weights)
}

/** The groups a cut-over drains: those that had traffic before and have none after. */
export function drainedGroups(before: Weights, after: Weights): string[] {
  return Object.keys(before).filter((group) => (before[group] ?? 0) > 0 && !((after[group] ?? 0) > 0))
}

/**
 * The change a rollback undoes: the service's latest change that was not itself a rollback and
 * was not undone yet. Rolling back twice therefore goes two steps back (an undo stack), never
 * toggles between two states. Undefined when there is nothing left to undo.
 */
export function changeToUndo(history: readonly HistoryEntry[]): HistoryEntry | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!
    if (entry.kind !== 'rollback' && entry.undone !== true) return entry
  }
  return undefined
}

/** How a drain ended. */
export type DrainOutcome = 'drained' | 'deadline' | 'superseded'

/** The counts reported with `cutover_completed`. */
export interface DrainCounts {
  /** Requests on the drained groups' connections when the cut-over started. */
  readonly inflightAtStart: number
  /** Of those, requests that finished by themselves. */
  readonly completed: number
  /** Requests still running at the deadline, whose connections were closed. */
  readonly cut: number
  /** Requests still running when a later change superseded the drain; they finish on their own. */
  readonly remaining: number
}

/** Counts for a drain that ended with `outcome` while `stillRunning` requests were on the old connections. */
export function drainCounts(inflightAtStart: number, stillRunning: number, outcome: DrainOutcome): DrainCounts {
  const running = Math.min(stillRunning, inflightAtStart)
  return {
    inflightAtStart,
    completed: inflightAtStart - running,
    cut: outcome === 'deadline' ? running : 0,
    remaining: outcome === 'superseded' ? running : 0,
  }
}
