#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=100
// The young generation's semi-spaces capped at 8 MiB (V8 grows them to 16 under load): a proxy's
// garbage dies young either way, and this keeps ~14 MiB of RSS off every process for a few % CPU.
// The old generation grows by a fixed 2x between full GCs: V8's own choice right after start is
// up to 4x, a one-off RSS peak of 116-129 MiB in the first seconds of load (99-104 MiB after),
// and its later ones are smaller, more full GCs (bench/README.md). Workers inherit the flags.
// Run with `node` directly, pass them yourself.
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { canaryCheckCommand } from './canary-check.js'
import { configSchemaCommand } from './config-schema.js'
import { cutoverCommand } from './cutover.js'
import { demoCommand } from './demo.js'
import { CliError } from './errors.js'
import { rollbackCommand } from './rollback.js'
import { rolloutCommand } from './rollout.js'
import { serveCommand } from './serve.js'
import { simpleserviceCommand } from './simpleservice.js'
import { statusCommand } from './status.js'
import { weightsCommand } from './weights.js'

function fail(message: string, exitCode: number): never {
  process.stderr.write(`zdd-proxy: ${message.split('\n')[0]}\n`)
  process.exit(exitCode)
}

try {
  await yargs(hideBin(process.argv))
    .scriptName('zdd-proxy')
    .command(serveCommand)
    .command(demoCommand)
    .command(simpleserviceCommand)
    .command(canaryCheckCommand)
    .command(statusCommand)
    .command(weightsCommand)
    .command(cutoverCommand)
    .command(rollbackCommand)
    .command(rolloutCommand)
    .command(configSchemaCommand)
    .demandCommand(1, 'a command is required (see --help)')
    .recommendCommands()
    .strict()
    .help()
    .version()
    .fail((message, error) => {
      if (error) throw error
      const suggestion = /^Did you mean (\S+)\?$/.exec(message ?? '')
      if (suggestion !== null) fail(`unknown command "${hideBin(process.argv)[0]}" (did you mean ${suggestion[1]}?)`, 2)
      fail(message ?? 'bad usage', 2)
    })
    .parseAsync()
} catch (error) {
  if (error instanceof CliError) fail(error.message, error.exitCode)
  fail(error instanceof Error ? error.message : String(error), 1)
}
