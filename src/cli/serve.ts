import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandModule } from 'yargs'
import { loadCertificates } from '../config/certificates.js'
import { longestDrainMs } from '../config/drain.js'
import { loadConfig } from '../config/load.js'
import { createLogger } from '../support/log.js'
import { startProxy, type RunningProxy } from '../main.js'
import { CliError } from './errors.js'

/** The embedded default config, shipped with the package. */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../../config/default.json', import.meta.url))

interface ServeArgs {
  config?: string
  workers?: number
}

/**
 * Stops `proxy` on SIGTERM/SIGINT, the same way with and without workers: no new connections,
 * in-flight requests finish (bounded by `graceMs`), then `after` runs and the process exits 0.
 */
export function stopOnSignals(proxy: RunningProxy, graceMs: number | (() => number), after?: () => Promise<void>): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    proxy.logger.info({ event: 'stopping', signal }, 'stopping: finishing in-flight requests')
    void (async () => {
      await proxy.stop(typeof graceMs === 'number' ? graceMs : graceMs())
      await after?.()
      proxy.logger.info({ event: 'stopped', resources: process.getActiveResourcesInfo() }, 'stopped')
      // Everything is closed, so the process ends by itself; if a handle still lingers, say which
      // and exit anyway (the timer is unref'd, so it does not keep the process alive itself).
      process.exitCode = 0
      setTimeout(() => {
        proxy.logger.error({ event: 'exit_forced', resources: process.getActiveResourcesInfo() }, 'handles left after stop')
        process.exit(0)
      }, 5_000).unref()
    })()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the proxy listeners and the admin listener',
  builder: (yargs) =>
    yargs
      .option('config', {
        type: 'string',
        describe: 'config file (default: the embedded config/default.json)',
      })
      .option('workers', {
        type: 'number',
        describe: 'run the data plane in N worker processes (0: all in this process); SIGUSR2 restarts them one at a time',
      }),
  handler: async (args) => {
    const workers = args.workers ?? 0
    if (!Number.isInteger(workers) || workers < 0) throw new CliError(`--workers: expected a whole number >= 0, got ${args.workers}`, 2)
    // Reloads read the same file; an absolute path stays right whatever the working directory.
    const configPath = resolve(args.config ?? DEFAULT_CONFIG_PATH)
    const config = await loadConfig(args.config ?? DEFAULT_CONFIG_PATH)
    const certificates = await loadCertificates(config, args.config ?? DEFAULT_CONFIG_PATH)
    const logger = createLogger('zdd-proxy')
    const graceMs = longestDrainMs(config.services)
    // SIGHUP reloads the config (it would end the process by default: a proxy must not drop
    // traffic because a terminal closed). Until the proxy runs, a hangup means nothing.
    let proxy: RunningProxy | undefined
    process.on('SIGHUP', () => proxy?.hangup())
    process.on('SIGUSR2', () => proxy?.restartWorkers())
    if (workers > 0) {
      const { startCluster } = await import('../cluster/primary/start.js')
      proxy = await startCluster(config, logger, { configPath, certificates, workers, graceMs })
    } else {
      proxy = await startProxy(config, logger, { configPath, certificates })
    }
    const running = proxy
    // A reload may have changed drainSeconds: the grace is the config's in force at the signal.
    stopOnSignals(running, () => longestDrainMs(running.plane.config.services))
  },
}
