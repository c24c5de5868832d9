import { setTimeout as sleep } from 'node:timers/promises'

/** One `health_changed` log line of the proxy. */
export interface HealthChange {
  /** Wall-clock ms of the log line. */
  readonly time: number
  readonly group: string
  /** `host:port`. */
  readonly instance: string
  readonly from: string
  readonly to: string
  readonly reason: string
}

/** Every `health_changed` line in a proxy's output, in order. */
export function healthChanges(output: string): HealthChange[] {
  const changes: HealthChange[] = []
  for (const line of output.split('\n')) {
    if (!line.includes('"event":"health_changed"')) continue
    const entry = JSON.parse(line) as { time: string; group: string; instance: string; from: string; to: string; reason: string }
    changes.push({ time: Date.parse(entry.time), group: entry.group, instance: entry.instance, from: entry.from, to: entry.to, reason: entry.reason })
  }
  return changes
}

/** The latest state of every instance the log mentions. */
export function statesOf(output: string): Map<string, string> {
  const states = new Map<string, string>()
  for (const change of healthChanges(output)) states.set(change.instance, change.to)
  return states
}

/** Polls the log until `condition` holds; throws naming `what` after `withinMs`. */
export async function waitForStates(
  output: () => string,
  condition: (states: Map<string, string>) => boolean,
  withinMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!condition(statesOf(output()))) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms: ${what}\n${JSON.stringify([...statesOf(output())])}`)
    await sleep(100)
  }
}

/** True when every one of `instances` is in `state`. */
export const allIn =
  (instances: readonly string[], state: string) =>
  (states: Map<string, string>): boolean =>
    instances.every((instance) => states.get(instance) === state)
