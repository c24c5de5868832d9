import { setTimeout as sleep } from 'node:timers/promises'
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import type { DrainStatus } from '../control/drain.js'
import type { ServiceView } from '../control/status.js'
import { AdminClient, mutationOptions } from './admin-client.js'
import type { ChangeAnswer } from './change-answer.js'
import { CliError } from './errors.js'

const POLL_MS = 200
const PROGRESS_EVERY_MS = 5_000

function builder(yargs: Argv) {
  return mutationOptions(yargs)
    .positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
    .positional('GROUP', { type: 'string', demandOption: true, describe: 'group that gets 100 %' })
    .option('drain', { type: 'number', requiresArg: true, describe: 'seconds the old groups may finish in-flight requests (default: the service\'s drainSeconds)' })
    .option('min-ready', { type: 'number', requiresArg: true, describe: 'ready instances GROUP needs (default: all of them)' })
    .option('wait', {
      type: 'boolean',
      default: false,
      describe: 'wait until the old groups are drained, showing progress; exit 3 if requests were cut at the deadline',
    })
    .example('$0 cutover simpleservice 1.0 --drain 30 --wait', 'blue-green: everything to 1.0, wait for 0.9 to drain')
}

type CutoverArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

/** One line on how a drain ended. */
export function drainSummary(drain: DrainStatus): string {
  const counts = drain.counts
  if (counts === undefined) return `draining ${drain.from.join(', ')}: ${drain.inflight} requests in flight`
  if (drain.phase === 'superseded') return `drain superseded by a later change; ${counts.remaining} requests were still finishing`
  const how = drain.phase === 'drained' ? 'drained' : `deadline of ${drain.drainSeconds} s reached`
  return `${how}: ${counts.completed} of ${counts.inflightAtStart} in-flight requests completed, ${counts.cut} cut`
}

async function handler(argv: ArgumentsCamelCase<CutoverArgs>): Promise<void> {
  if (argv.drain !== undefined && !(Number.isFinite(argv.drain) && argv.drain >= 0)) throw new CliError('--drain must be a number of seconds >= 0', 2)
  if (argv.minReady !== undefined && !(Number.isInteger(argv.minReady) && argv.minReady >= 1)) throw new CliError('--min-ready must be an integer >= 1', 2)
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const path = `/v1/services/${encodeURIComponent(argv.SERVICE)}`
  const body: Record<string, unknown> = { to: argv.GROUP }
  if (argv.drain !== undefined) body.drainSeconds = argv.drain
  if (argv.minReady !== undefined) body.minReady = argv.minReady
  if (argv.reason !== undefined) body.reason = argv.reason
  const answer = await client.send<ChangeAnswer>('POST', `${path}/cutover`, body, argv.ifMatch)
  const from = answer.drain?.from.join(', ') || 'nothing'
  if (!argv.json) {
    process.stdout.write(`${argv.SERVICE}: cut over to ${argv.GROUP} (revision ${answer.revision}); draining ${from} for up to ${answer.drain?.drainSeconds ?? '?'} s\n`)
  }
  let drain = answer.drain
  if (argv.wait && drain !== undefined) {
    let shown = -1
    let shownAt = 0
    // The drain ends by itself at its deadline, so this loop is bounded by drainSeconds.
    while (drain.phase === 'draining' && drain.revision === answer.revision) {
      await sleep(POLL_MS)
      const view = await client.get<ServiceView>(path)
      if (view.cutover === null) break
      drain = view.cutover
      // Progress: when the count moves, and every few seconds while it does not.
      if (!argv.json && drain.phase === 'draining' && (drain.inflight !== shown || Date.now() - shownAt >= PROGRESS_EVERY_MS)) {
        shown = drain.inflight
        shownAt = Date.now()
        process.stdout.write(`${argv.SERVICE}: ${drainProgress(drain, Date.now())}\n`)
      }
    }
  }
  if (argv.json) process.stdout.write(`${JSON.stringify(argv.wait ? { ...answer, drain } : answer)}\n`)
  else if (argv.wait && drain !== undefined) process.stdout.write(`${argv.SERVICE}: ${drainSummary(drain)}\n`)
  const cut = argv.wait ? (drain?.counts?.cut ?? 0) : 0
  if (cut > 0) throw new CliError(`${cut} in-flight requests were cut at the drain deadline (raise --drain to let them finish)`, 3)
}

/** One line while a drain runs: what is left and how long it may take. */
function drainProgress(drain: DrainStatus, nowMs: number): string {
  const left = Math.max(0, drain.drainSeconds - (nowMs - Date.parse(drain.startedAt)) / 1000)
  return `draining ${drain.from.join(', ')}: ${drain.inflight} requests in flight, deadline in ${left.toFixed(0)} s`
}

export const cutoverCommand: CommandModule<object, CutoverArgs> = {
  command: 'cutover SERVICE GROUP',
  describe: 'blue-green cut-over: GROUP gets 100 %, the other groups drain',
  builder,
  handler,
}
