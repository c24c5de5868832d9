import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'

function builder(yargs: Argv) {
  return yargs
    .option('markdown', { type: 'boolean', default: false, describe: 'print the field reference as Markdown instead' })
    .example('$0 config-schema > config/schema.json', 'the JSON Schema editors validate a config file with ("$schema")')
    .example('$0 config-schema --markdown', 'every field with its type, default and meaning')
}

type ConfigSchemaArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

async function handler(argv: ArgumentsCamelCase<ConfigSchemaArgs>): Promise<void> {
  // Loaded here, not at the top: zod stays out of the processes that serve requests.
  const { configJsonSchema, configReference } = await import('../validation/config-reference.js')
  const schema = configJsonSchema()
  process.stdout.write(argv.markdown ? configReference(schema) : `${JSON.stringify(schema, null, 2)}\n`)
}

export const configSchemaCommand: CommandModule<object, ConfigSchemaArgs> = {
  command: 'config-schema',
  describe: 'print the configuration file\'s JSON Schema (or, with --markdown, its reference)',
  builder,
  handler,
}
