import type { CommandModule } from 'yargs'
import type { SimpleService } from '../simpleservice/server.js'
import { CliError } from './errors.js'

const EPILOG = `Environment, as the original mhausenblas/simpleservice 0.5.0:
  PORT0                   port to listen on (default 9876; 0: the OS picks one)
  SIMPLE_SERVICE_VERSION  version reported in the bodies (default 0.5.0)
  HEALTH_MIN, HEALTH_MAX  GET /health waits a random integer number of ms
                          in [HEALTH_MIN, HEALTH_MAX), drawn per request
Extensions, off by default:
  HOST                    address to bind (default 0.0.0.0)
  FAIL_RATE               share (0..1) of GET /endpoint0 answered 500 (JSON)
  LATENCY_MS              delay added to every GET /endpoint0, in ms
  SIMPLE_SERVICE_QUIET=1  no per-request access-log lines (for benchmarks)

Endpoints: GET /endpoint0, /health, /info and /env. Like the original, /env
shows the whole process environment: keep secrets out of it.

Deliberate differences from the original:
  - the /health delay is a timer: it does not block other requests
    (the original's time.sleep froze the whole server);
  - numeric values are compared as numbers, not strings; invalid values
    (or HEALTH_MIN > HEALTH_MAX) stop it at startup with a one-line error;
  - on SIGTERM or SIGINT it stops accepting, finishes in-flight requests
    (a pending /health too), closes idle connections and exits 0; after
    30 s it cuts what is left and exits 1; a second signal exits at once;
  - /env returns the environment as a JSON object (the original sent
    Python's repr of it as a string);
  - the startup line reports the port actually bound; HOST, FAIL_RATE,
    LATENCY_MS and SIMPLE_SERVICE_QUIET are extensions.`

/**
 * Batches access-log lines into one stdout write per event-loop turn, so logging costs one
 * syscall per burst of requests instead of one per request.
 */
function createLineBatcher(write: (text: string) => void) {
  let pending = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === '') return
    const text = pending
    pending = ''
    write(text)
  }
  const log = (line: string) => {
    pending += line
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return { log, flush }
}

/**
 * Resolves on SIGTERM/SIGINT, or, with `ZDD_STOP_WITH_PARENT=1` (set by `zdd-proxy demo`), when
 * stdin ends: the parent is gone, even if it was SIGKILLed and could not stop us itself.
 */
function waitForStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const watchParent = process.env.ZDD_STOP_WITH_PARENT === '1'
    const onStop = (reason: string) => {
      process.off('SIGTERM', onStop)
      process.off('SIGINT', onStop)
      if (watchParent) {
        process.stdin.off('end', onParentGone)
        process.stdin.destroy()
      }
      resolve(reason)
    }
    const onParentGone = () => onStop('parent exited')
    process.on('SIGTERM', onStop)
    process.on('SIGINT', onStop)
    if (watchParent) {
      process.stdin.once('end', onParentGone)
      process.stdin.resume()
    }
  })
}

export const simpleserviceCommand: CommandModule = {
  command: 'simpleservice',
  describe: 'run the lab test service, configured by env vars as the original (see its --help)',
  builder: (yargs) => yargs.epilog(EPILOG).wrap(null),
  handler: async () => {
    // Loaded here, not at the top: `serve` shares this entry point and should not carry the service.
    const [{ startSimpleService }, { InvalidSettingError, parseSimpleServiceEnv }] = await Promise.all([
      import('../simpleservice/server.js'),
      import('../simpleservice/settings.js'),
    ])
    let settings
    try {
      settings = parseSimpleServiceEnv(process.env)
    } catch (error) {
      if (error instanceof InvalidSettingError) throw new CliError(`simpleservice: ${error.message}`)
      throw error
    }
    const stdout = (text: string) => void process.stdout.write(text)
    const batcher = settings.quiet ? undefined : createLineBatcher(stdout)
    // Listen for signals before listening on the port, so an early SIGTERM still drains.
    const stopSignal = waitForStopSignal()
    let service: SimpleService
    try {
      service = await startSimpleService({ ...settings, log: batcher?.log })
    } catch (error) {
      throw new CliError(`simpleservice: ${error instanceof Error ? error.message : String(error)}`)
    }
    stdout(`This is simple service in version v${settings.version} listening on port ${service.port}\n`)

    await stopSignal
    // A second signal during the drain means "now".
    const forced = waitForStopSignal()
    void forced.then(() => {
      batcher?.flush()
      process.stderr.write('zdd-proxy: simpleservice: stopped before the drain finished\n')
      process.exit(1)
    })
    const outcome = await service.close()
    batcher?.flush()
    if (!outcome.drained) throw new CliError('simpleservice: drain timed out after 30 s; open connections were cut')
    // Nothing else holds the event loop, so the process ends with code 0; the guard covers a stray handle.
    setTimeout(() => process.exit(0), 1_000).unref()
  },
}
