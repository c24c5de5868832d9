import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { AdminClient, formatWeights, mutationOptions } from './admin-client.js'
import type { ChangeAnswer } from './change-answer.js'

function builder(yargs: Argv) {
  return mutationOptions(yargs)
    .positional('SERVICE', { type: 'string', demandOption: true, describe: 'service name' })
    .example('$0 rollback simpleservice', 'undo the last change; run again to go one more step back')
}

type RollbackArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

async function handler(argv: ArgumentsCamelCase<RollbackArgs>): Promise<void> {
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const body: Record<string, unknown> = {}
  if (argv.reason !== undefined) body.reason = argv.reason
  const answer = await client.send<ChangeAnswer>('POST', `/v1/services/${encodeURIComponent(argv.SERVICE)}/rollback`, body, argv.ifMatch)
  process.stdout.write(
    argv.json
      ? `${JSON.stringify(answer)}\n`
      : `${argv.SERVICE}: rolled back revision ${answer.change.undid}; weights ${formatWeights(answer.change.after)} (revision ${answer.revision})\n`,
  )
}

export const rollbackCommand: CommandModule<object, RollbackArgs> = {
  command: 'rollback SERVICE',
  describe: 'restore the weights in force before the last change (again: one more step back)',
  builder,
  handler,
}
