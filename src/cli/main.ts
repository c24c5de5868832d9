#!/usr/bin/env -S node --max-semi-space-size=8
// The young generation's semi-spaces capped at 8 MiB (V8 grows them to 16 under load): a proxy's
// garbage dies young either way, and this keeps ~16 MiB of RSS off every process for ~1 % CPU
// (bench/README.md). Workers inherit the flag. Run with `node` directly, pass it yourself.
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { canaryCheckCommand } from './canary-check.js'
import { cutoverCommand } from './cutover.js'
import { demoCommand } from './demo.js'
import { CliError } from './errors.js'
import { rollbackCommand } from './rollback.js'
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
    .demandCommand(1, 'a command is required (see --help)')
    .strict()
    .help()
    .version()
    .fail((message, error) => {
      if (error) throw error
      fail(message ?? 'bad usage', 2)
    })
    .parseAsync()
} catch (error) {
  if (error instanceof CliError) fail(error.message, error.exitCode)
  fail(error instanceof Error ? error.message : String(error), 1)
}
