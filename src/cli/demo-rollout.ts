/**
 * `zdd-proxy demo --rollout`: the lab's canary section run by the proxy itself. Under a steady
 * load of new clients, a rollout takes a healthy 1.0 through 10/50/100 % to a drained cut-over,
 * then one of a 1.1 that fails a fifth of its requests is rolled back by its own figures. Every
 * step is printed as the proxy announces it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import type { StepFigures } from '../state/rollout-record.js'
import type { EventBus, ZddEvent } from '../support/events.js'
import { GROUP_HEADER } from '../canary-check/probe.js'
import { AdminClient, formatWeights } from './admin-client.js'
import { CliError } from './errors.js'
import { figuresText } from './rollout-format.js'

/** New clients a second the demo sends itself while a rollout runs. */
const LOAD_RPS = 100
/** The longest a rollout of the story may take before the demo gives up on it. */
const ROLLOUT_LIMIT_MS = 120_000

export interface RolloutStory {
  readonly service: string
  readonly url: string
  readonly adminUrl: string
  readonly token: string | undefined
  readonly events: EventBus
  readonly print: (...lines: string[]) => void
}

/** Requests sent by the demo's load and how they ended, per version that answered. */
interface LoadTally {
  sent: number
  readonly byVersion: Map<string, number>
  /** 5xx answers by the version that gave them; `none` for requests that got no answer. */
  readonly failedBy: Map<string, number>
}

/** A fixed rate of cookie-less GETs (each a new client) until `stop` resolves; loopback only. */
function runLoad(url: string, stop: Promise<void>): { tally: LoadTally; done: Promise<void> } {
  const tally: LoadTally = { sent: 0, byVersion: new Map(), failedBy: new Map() }
  const failed = (version: string) => tally.failedBy.set(version, (tally.failedBy.get(version) ?? 0) + 1)
  const agent = new Agent({ connections: 32, keepAliveTimeout: 2_000 })
  let stopped = false
  void stop.then(() => (stopped = true))
  const inflight = new Set<Promise<void>>()
  const one = async () => {
    tally.sent++
    try {
      const response = await request(`${url}/endpoint0`, { dispatcher: agent })
      const version = String(response.headers[GROUP_HEADER] ?? '?')
      await response.body.dump()
      tally.byVersion.set(version, (tally.byVersion.get(version) ?? 0) + 1)
      if (response.statusCode >= 500) failed(version)
    } catch {
      failed('none')
    }
  }
  const done = (async () => {
    const start = performance.now()
    for (let i = 0; !stopped; i++) {
      const wait = start + (i * 1000) / LOAD_RPS - performance.now()
      if (wait > 0) await sleep(wait)
      if (stopped || inflight.size >= 256) continue
      const running = one()
      inflight.add(running)
      void running.finally(() => inflight.delete(running))
    }
    await Promise.all(inflight)
    await agent.close()
  })()
  return { tally, done }
}

function stepLine(figures: StepFigures | null | undefined): string {
  return figures === null || figures === undefined ? '' : `  ${figuresText(figures)}`
}

/** One printed line per rollout event of `service`; the ending event resolves the promise. */
function follow(events: EventBus, service: string, print: (...lines: string[]) => void): { ended: Promise<ZddEvent>; close(): void } {
  let unsubscribe = () => {}
  const ended = new Promise<ZddEvent>((resolve) => {
    unsubscribe = events.subscribe((event) => {
      if (event.service !== service) return
      const weights = event.weights as Record<string, number> | undefined
      switch (event.eventType) {
        case 'rollout_started':
          print(`  started: ${event.to} at ${event.weight} % (${formatWeights(weights ?? {})})`)
          break
        case 'rollout_step': {
          const previous = event.previous as { step: number; result: string; figures: StepFigures | null }
          print(`  step ${previous.step} ${previous.result}:${stepLine(previous.figures)}`)
          print(event.handover === 'cutover' ? `  cut-over to ${event.to}: draining the old groups` : `  step ${event.step} of ${event.of}: ${event.to} at ${event.weight} % (${formatWeights(weights ?? {})})`)
          break
        }
        case 'rollout_paused':
          print(`  paused: ${String(event.reason)}`)
          break
        case 'cutover_completed':
          print(`  old side drained`)
          break
        case 'rollout_completed':
          print(`  completed: ${event.to} takes ${event.weight} % (${formatWeights(weights ?? {})})`)
          resolve(event)
          break
        case 'rollout_failed':
          print(`  FAILED at step ${event.step}: ${String(event.reason)}`)
          print(`  rolled back at once to ${formatWeights((event.restored as Record<string, number>) ?? {})}${stepLine(event.figures as StepFigures | null)}`)
          resolve(event)
          break
        case 'rollout_aborted':
          print(`  aborted: ${String(event.reason)}`)
          resolve(event)
          break
        default:
      }
    })
  })
  return { ended, close: () => unsubscribe() }
}

async function startRollout(story: RolloutStory, body: Record<string, unknown>): Promise<void> {
  try {
    await new AdminClient({ admin: story.adminUrl, token: story.token }).send('POST', `/v1/services/${encodeURIComponent(story.service)}/rollouts`, body)
  } catch (error) {
    throw new CliError(`the demo could not start a rollout of ${String(body.to)}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

async function oneRollout(story: RolloutStory, title: string, body: Record<string, unknown>): Promise<ZddEvent> {
  story.print('', title)
  const followed = follow(story.events, story.service, story.print)
  try {
    await startRollout(story, body)
    const limit = sleep(ROLLOUT_LIMIT_MS, undefined, { ref: false }).then(() => {
      throw new CliError(`the demo's rollout of ${String(body.to)} did not end within ${ROLLOUT_LIMIT_MS / 1000} s`)
    })
    return await Promise.race([followed.ended, limit])
  } finally {
    followed.close()
  }
}

/** Runs both rollouts of the story under the demo's own load and prints the outcome. */
export async function runRolloutStory(story: RolloutStory): Promise<void> {
  let stopLoad = () => {}
  const load = runLoad(story.url, new Promise<void>((resolve) => (stopLoad = resolve)))
  const analysis = { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 30 }
  try {
    await sleep(1_000)
    await oneRollout(story, `rollout 1 of 2: 1.0, healthy; steps 10/50/100 % of ${LOAD_RPS} new clients a second, 5 s each, then a cut-over`, {
      to: '1.0',
      steps: [10, 50, 100],
      stepSeconds: 5,
      analysis,
      finish: 'cutover',
      drainSeconds: 5,
    })
    await oneRollout(story, 'rollout 2 of 2: 1.1, which fails 20 % of its requests (FAIL_RATE=0.2); same steps and limits (1 % errors, p99 500 ms)', {
      to: '1.1',
      steps: [10, 50, 100],
      stepSeconds: 5,
      analysis,
      finish: 'cutover',
      drainSeconds: 5,
    })
  } finally {
    stopLoad()
    await load.done
  }
  const { sent, byVersion, failedBy } = load.tally
  const counts = (map: ReadonlyMap<string, number>) => [...map].map(([version, count]) => `${version}: ${count}`).join(', ')
  const failures = failedBy.size === 0 ? 'none failed' : `failed (5xx or no answer) by version: ${counts(failedBy)}`
  story.print('', `the demo's load: ${sent} requests answered by version ${counts(byVersion)}; ${failures}`, '')
}
