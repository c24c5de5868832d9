import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import type { ServiceView } from '../control/status.js'
import type { ChangeAnswer } from './change-answer.js'
import { AdminClient, formatWeights, mutationOptions } from './admin-client.js'
import { CliError } from './errors.js'

function builder(yargs: Argv) {
  return mutationOptions(yargs)
    .positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
    .positional('WEIGHTS', { type: 'string', array: true, demandOption: true, describe: 'GROUP=WEIGHT pairs, one for every group (or --others)' })
    .option('others', { type: 'number', requiresArg: true, describe: 'weight of the groups left out (without it, every group must be given)' })
    .example('$0 weights simpleservice 0.9=80 1.0=20', 'send 20 % of new clients to the canary')
    .example('$0 weights shop blue=100 --others 0', 'everything to blue, every other group 0')
}

type WeightsArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

/** `GROUP=WEIGHT` pairs as typed; anything else is a usage error (exit 2). */
export function parseWeightArgs(pairs: readonly string[]): Record<string, number> {
  if (pairs.length === 0) throw new CliError('expected at least one GROUP=WEIGHT', 2)
  const weights: Record<string, number> = Object.create(null) as Record<string, number>
  for (const pair of pairs) {
    const equals = pair.lastIndexOf('=')
    const group = pair.slice(0, equals)
    const text = pair.slice(equals + 1)
    if (equals <= 0 || !/^\d+(\.\d+)?$/.test(text)) {
      throw new CliError(`bad weight "${pair}": expected GROUP=WEIGHT with a number >= 0, e.g. 1.0=20`, 2)
    }
    if (Object.hasOwn(weights, group)) throw new CliError(`group ${group} is given twice`, 2)
    weights[group] = Number(text)
  }
  return weights
}

/**
 * The weights to send: every group of the service, those left out at `others`. Without `others` a
 * group left out is an error, so a typo or a forgotten group never silently gets 0.
 */
function completeWeights(given: Readonly<Record<string, number>>, groups: readonly string[], others: number | undefined): Record<string, number> {
  const unknown = Object.keys(given).filter((group) => !groups.includes(group))
  if (unknown.length > 0) throw new CliError(`unknown group ${unknown.join(', ')} (groups: ${groups.join(', ')})`, 2)
  const missing = groups.filter((group) => !Object.hasOwn(given, group))
  if (missing.length > 0 && others === undefined) {
    throw new CliError(`no weight for ${missing.join(', ')}: give every group (${groups.join(', ')}) or --others W for the rest`, 2)
  }
  const weights: Record<string, number> = Object.create(null) as Record<string, number>
  for (const group of groups) weights[group] = Object.hasOwn(given, group) ? given[group]! : others!
  return weights
}

async function handler(argv: ArgumentsCamelCase<WeightsArgs>): Promise<void> {
  if (argv.others !== undefined && !(Number.isFinite(argv.others) && argv.others >= 0)) throw new CliError('--others must be a number >= 0', 2)
  const given = parseWeightArgs(argv.WEIGHTS.map(String))
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const view = await client.get<ServiceView>(`/v1/services/${encodeURIComponent(argv.SERVICE)}`)
  const weights = completeWeights(given, view.groups.map((group) => group.name), argv.others)
  const body: Record<string, unknown> = { weights }
  if (argv.reason !== undefined) body.reason = argv.reason
  const answer = await client.send<ChangeAnswer>('PUT', `/v1/services/${encodeURIComponent(argv.SERVICE)}/weights`, body, argv.ifMatch)
  process.stdout.write(
    argv.json ? `${JSON.stringify(answer)}\n` : `${argv.SERVICE}: weights ${formatWeights(answer.change.after)} (revision ${answer.revision})\n`,
  )
}

export const weightsCommand: CommandModule<object, WeightsArgs> = {
  command: 'weights SERVICE <WEIGHTS..>',
  describe: 'set the weights of a service (canary)',
  builder,
  handler,
}
