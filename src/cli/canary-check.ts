import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { CliError } from './errors.js'

/** CLIENTS as typed: digits only, so "1e3", "10.5" and "-1" are usage errors rather than guesses. */
function parseClients(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new CliError(`CLIENTS must be a positive integer, got ${text}`, 2)
  }
  return Number(text)
}

function builder(yargs: Argv) {
  return yargs
    .positional('URL', {
      type: 'string',
      demandOption: true,
      describe: 'proxy or service URL; without a path /endpoint0 is asked for',
    })
    .positional('CLIENTS', {
      type: 'string',
      describe: 'distinct clients (default 10, or as many as --identities holds)',
    })
    .option('requests', { type: 'number', default: 1, describe: 'sequential requests per client' })
    .option('concurrency', { type: 'number', default: 32, describe: 'clients in flight at once' })
    .option('timeout', { type: 'number', default: 10_000, describe: 'limit for one request, ms' })
    .option('id-header', { type: 'string', default: 'x-client-id', describe: 'header that carries the client id' })
    .option('service', { type: 'string', default: 'simpleservice', describe: 'service name in the report' })
    .option('identities', {
      type: 'string',
      describe: 'file to store client ids, cookies and versions in; reused and compared with when it exists',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .example('$0 canary-check http://127.0.0.1:8080 10', 'which versions 10 new clients see')
    .example('$0 canary-check http://127.0.0.1:8080 1000 --requests 5 --identities ids.json', 'stickiness too')
}

/** The options as yargs parses them, inferred from the builder. */
type CanaryCheckArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

async function handler(argv: ArgumentsCamelCase<CanaryCheckArgs>): Promise<void> {
  // Loaded here, not at the top: `serve` shares this entry point and should not carry the tool.
  const [{ CanaryCheckError }, { createProgress }, { formatReport, reportExitCode, reportJson }, { runCanaryCheck }] = await Promise.all([
    import('../canary-check/errors.js'),
    import('../canary-check/progress.js'),
    import('../canary-check/report.js'),
    import('../canary-check/run.js'),
  ])
  const progress = createProgress(process.stderr)
  const showProgress = !argv.json
  try {
    const report = await runCanaryCheck({
      url: argv.URL,
      clients: parseClients(argv.CLIENTS),
      requests: argv.requests,
      concurrency: argv.concurrency,
      timeoutMs: argv.timeout,
      idHeader: argv.idHeader,
      service: argv.service,
      identitiesFile: argv.identities,
      onProgress: showProgress ? (done, total) => progress.update(done, total) : undefined,
    })
    progress.finish()
    process.stdout.write(argv.json ? `${JSON.stringify(reportJson(report))}\n` : formatReport(report))
    process.exitCode = reportExitCode(report)
  } catch (error) {
    progress.finish()
    if (error instanceof CanaryCheckError) throw new CliError(error.message, error.kind === 'usage' ? 2 : 1)
    throw error
  }
}

export const canaryCheckCommand: CommandModule<object, CanaryCheckArgs> = {
  command: 'canary-check URL [CLIENTS]',
  describe: 'measure which version CLIENTS distinct clients see',
  builder,
  handler,
}
