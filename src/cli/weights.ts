import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import type { ChangeAnswer } from './change-answer.js'
import { AdminClient, formatWeights, mutationOptions } from './admin-client.js'
import { CliError } from './errors.js'

function builder(yargs: Argv) {
  return mutationOptions(yargs)
    .positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
    .positional('WEIGHTS', { type: 'string', array: true, demandOption: true, describe: 'GROUP=WEIGHT pairs; groups left out get 0' })
    .example('$0 weights simpleservice 0.9=80 1.0=20', 'send 20 % of new clients to the canary')
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

async function handler(argv: ArgumentsCamelCase<WeightsArgs>): Promise<void> {
  const weights = parseWeightArgs(argv.WEIGHTS.map(String))
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
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
