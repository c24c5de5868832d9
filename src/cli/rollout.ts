import { setTimeout as sleep } from 'node:timers/promises'
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import type { RolloutView } from '../control/rollout-api.js'
import type { ServiceView } from '../control/status.js'
import { AdminClient, adminOptions, mutationOptions } from './admin-client.js'
import { CliError } from './errors.js'
import { formatRollout, outcomeLine, progressLine } from './rollout-format.js'

const POLL_MS = 500
const ENDED = ['completed', 'failed', 'aborted']

/** What the rollout endpoints answer. */
interface RolloutAnswer {
  readonly revision: number
  readonly rollout: RolloutView | null
  readonly service?: ServiceView
}

/** `5,25,50,100` → [5, 25, 50, 100]; the API checks the rest (range, order). */
function parseSteps(text: string): number[] {
  const steps = text.split(',').map((part) => part.trim().replace(/%$/, ''))
  if (steps.some((step) => !/^\d+(\.\d+)?$/.test(step))) throw new CliError(`--steps: expected percentages separated by commas, e.g. 5,25,50,100; got "${text}"`, 2)
  return steps.map(Number)
}

/** `1%`, `0.5 %` or `0.01` → 0.01. */
function parseRate(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text)
  if (match === null) throw new CliError(`--max-error-rate: expected a percentage like 1% or a share like 0.01; got "${text}"`, 2)
  const value = Number(match[1])
  const rate = match[2] === '%' ? value / 100 : value
  if (rate > 1) throw new CliError(`--max-error-rate: ${text} is more than 100 %`, 2)
  return rate
}

/** `500ms`, `0.5s` or `500` (ms) → 500. */
function parseMs(text: string, option: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text)
  if (match === null) throw new CliError(`${option}: expected a duration like 500ms or 0.5s; got "${text}"`, 2)
  const value = Number(match[1]) * (match[2] === 's' ? 1000 : 1)
  if (!(value > 0)) throw new CliError(`${option}: must be above 0`, 2)
  return value
}

function servicePath(service: string, rest: string): string {
  return `/v1/services/${encodeURIComponent(service)}${rest}`
}

function startBuilder(yargs: Argv) {
  return mutationOptions(yargs)
    .positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
    .positional('GROUP', { type: 'string', demandOption: true, describe: 'the canary: the group the traffic moves to' })
    .option('steps', { type: 'string', requiresArg: true, describe: 'the canary\'s weight at each step, in %, comma-separated (default 5,25,50,100)' })
    .option('step-seconds', { type: 'number', requiresArg: true, describe: 'how long each step runs before it is judged (default 30)' })
    .option('max-error-rate', { type: 'string', requiresArg: true, describe: 'highest canary error rate, e.g. 1% (default 1%)' })
    .option('max-p99', { type: 'string', requiresArg: true, describe: 'highest canary p99 latency, e.g. 500ms (default: not judged)' })
    .option('min-requests', { type: 'number', requiresArg: true, describe: 'canary requests a step needs before it is judged (default 100)' })
    .option('compare-to-baseline', { type: 'boolean', describe: 'judge the canary\'s error rate against the baseline\'s rather than alone' })
    .option('max-wait', { type: 'number', requiresArg: true, describe: 'seconds a step may wait past --step-seconds for --min-requests before the rollout pauses (default 300)' })
    .option('finish', { choices: ['cutover', 'weights'] as const, describe: 'after the last step: a cut-over to GROUP (default) or keep the weights' })
    .option('drain', { type: 'number', requiresArg: true, describe: 'seconds the old groups may finish in-flight requests at the cut-over (default: the service\'s drainSeconds)' })
    .option('wait', { type: 'boolean', default: false, describe: 'follow the rollout to its end, showing progress; exit 0 when completed, 3 when rolled back' })
    .example('$0 rollout simpleservice 1.0 --steps 5,25,50,100 --step-seconds 30 --max-error-rate 1% --max-p99 500ms --wait', 'canary 1.0 in four steps, judged by the proxy, then cut over')
}

type StartArgs = ReturnType<typeof startBuilder> extends Argv<infer T> ? T : never

function requestBody(argv: ArgumentsCamelCase<StartArgs>): Record<string, unknown> {
  const body: Record<string, unknown> = { to: argv.GROUP }
  if (argv.steps !== undefined) body.steps = parseSteps(argv.steps)
  if (argv.stepSeconds !== undefined) body.stepSeconds = argv.stepSeconds
  if (argv.finish !== undefined) body.finish = argv.finish
  if (argv.drain !== undefined) body.drainSeconds = argv.drain
  if (argv.reason !== undefined) body.reason = argv.reason
  const analysis: Record<string, unknown> = {}
  if (argv.maxErrorRate !== undefined) analysis.maxErrorRate = parseRate(argv.maxErrorRate)
  if (argv.maxP99 !== undefined) analysis.maxP99Ms = parseMs(argv.maxP99, '--max-p99')
  if (argv.minRequests !== undefined) analysis.minRequests = argv.minRequests
  if (argv.compareToBaseline !== undefined) analysis.compareToBaseline = argv.compareToBaseline
  if (argv.maxWait !== undefined) analysis.maxWaitSeconds = argv.maxWait
  if (Object.keys(analysis).length > 0) body.analysis = analysis
  return body
}

async function start(argv: ArgumentsCamelCase<StartArgs>): Promise<void> {
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const answer = await client.send<RolloutAnswer>('POST', servicePath(argv.SERVICE, '/rollouts'), requestBody(argv), argv.ifMatch)
  const rollout = answer.rollout!
  if (!argv.wait) {
    process.stdout.write(argv.json ? `${JSON.stringify(answer)}\n` : `${argv.SERVICE}: rollout ${rollout.id} started (revision ${answer.revision})\n${progressLine(argv.SERVICE, rollout)}\n`)
    return
  }
  if (!argv.json) process.stdout.write(`${argv.SERVICE}: rollout ${rollout.id} started (revision ${answer.revision})\n`)
  const ended = await follow(client, argv.SERVICE, rollout, argv.json)
  if (argv.json) process.stdout.write(`${JSON.stringify({ revision: answer.revision, rollout: ended })}\n`)
  else process.stdout.write(`${outcomeLine(argv.SERVICE, ended)}\n`)
  if (ended.phase !== 'completed') throw new CliError(`rollout ${ended.id} ${ended.phase === 'failed' ? 'failed' : 'was aborted'} and ${argv.SERVICE} is back at its weights before it`, 3)
}

/**
 * Polls the rollout until it ends. On a terminal one line is rewritten in place; otherwise a line
 * is printed whenever the step, the phase or the verdict's kind changes. A pause is shown and
 * waited through: the operator may resume or abort it.
 */
async function follow(client: AdminClient, service: string, first: RolloutView, quiet: boolean): Promise<RolloutView> {
  const live = process.stdout.isTTY === true && !quiet
  let view = first
  let shown = ''
  for (;;) {
    const line = progressLine(service, view)
    const key = `${view.phase}/${view.step}/${(view.verdict ?? view.reason ?? '').split(':')[0]}`
    if (live) process.stdout.write(`\r\x1b[2K${line.slice(0, Math.max(20, (process.stdout.columns ?? 200) - 1))}`)
    else if (!quiet && key !== shown) process.stdout.write(`${line}\n`)
    shown = key
    if (ENDED.includes(view.phase)) break
    await sleep(POLL_MS)
    const answer = await client.get<RolloutAnswer>(servicePath(service, '/rollout'))
    if (answer.rollout === null || answer.rollout.id !== first.id) throw new CliError(`rollout ${first.id} of ${service} is gone: another rollout replaced it`)
    view = answer.rollout
  }
  if (live) process.stdout.write('\n')
  return view
}

function serviceBuilder(yargs: Argv) {
  return adminOptions(yargs).positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
}

type ServiceArgs = ReturnType<typeof serviceBuilder> extends Argv<infer T> ? T : never

async function status(argv: ArgumentsCamelCase<ServiceArgs>): Promise<void> {
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const answer = await client.get<{ service: string; rollout: RolloutView | null }>(servicePath(argv.SERVICE, '/rollout'))
  process.stdout.write(argv.json ? `${JSON.stringify(answer)}\n` : `${formatRollout(argv.SERVICE, answer.rollout)}\n`)
}

function actionBuilder(yargs: Argv) {
  return mutationOptions(yargs).positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
}

type ActionArgs = ReturnType<typeof actionBuilder> extends Argv<infer T> ? T : never

function action(name: 'pause' | 'resume' | 'promote' | 'abort', describe: string): CommandModule<object, ActionArgs> {
  return {
    command: `${name} SERVICE`,
    describe,
    builder: actionBuilder,
    handler: async (argv) => {
      const client = new AdminClient({ admin: argv.admin, token: argv.token })
      const answer = await client.send<RolloutAnswer>('POST', servicePath(argv.SERVICE, `/rollout/${name}`), argv.reason === undefined ? {} : { reason: argv.reason }, argv.ifMatch)
      process.stdout.write(argv.json ? `${JSON.stringify(answer)}\n` : `${outcomeLine(argv.SERVICE, answer.rollout!)} (revision ${answer.revision})\n`)
    },
  }
}

export const rolloutCommand: CommandModule = {
  command: 'rollout',
  describe: 'progressive rollout: canary steps judged by the proxy\'s own figures, automatic rollback, then a cut-over',
  builder: (yargs) =>
    yargs
      .command({ command: ['start SERVICE GROUP', '$0 SERVICE GROUP'], describe: 'start a rollout of SERVICE to GROUP (`start` may be left out)', builder: startBuilder, handler: start })
      .command({ command: 'status SERVICE', describe: 'the running or last rollout: step, weights, figures, results', builder: serviceBuilder, handler: status })
      .command(action('pause', 'stop at the current step (the weights stay)'))
      .command(action('resume', 'go on from the current step with a fresh window'))
      .command(action('promote', 'end the current step now and take the next one (or the hand-over)'))
      .command(action('abort', 'stop the rollout and go back to the weights before it, at once')),
  handler: () => {},
}
