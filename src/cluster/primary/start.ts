import type { Config } from '../../config/types.js'
import type { Logger } from '../../support/log.js'
import { startProxy } from '../../main.js'
import { WorkerPool } from './workers.js'

export interface ClusterOptions {
  /** Absolute path of the config file the workers read. */
  readonly configPath: string
  /** Worker processes, >= 1. */
  readonly workers: number
  /** How long in-flight requests may take to finish when a worker stops. */
  readonly graceMs: number
}

/**
 * `serve --workers N`: this process (the primary) runs the control side once (config, state,
 * discovery, health, admin API, snapshots) and N worker processes run the data plane. SIGHUP
 * restarts the workers one at a time; SIGTERM/SIGINT stops the workers gracefully, then the
 * control side, and exits 0.
 */
export async function startCluster(config: Config, logger: Logger, options: ClusterOptions): Promise<void> {
  // A hangup while starting must not end the primary (SIGHUP's default); it means nothing yet.
  let started = false
  let stopping = false
  process.on('SIGHUP', () => {
    if (started && !stopping) void pool.restart()
  })
  const proxy = await startProxy(config, logger, { listeners: false })
  const pool = new WorkerPool(proxy, config, logger, options)
  try {
    await pool.start()
  } catch (error) {
    await pool.stop(0)
    await proxy.stop(0)
    throw error
  }
  started = true
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    logger.info({ event: 'stopping', signal }, 'stopping: workers finish their in-flight requests')
    void (async () => {
      await pool.stop(options.graceMs)
      await proxy.stop(options.graceMs)
      logger.info({ event: 'stopped', resources: process.getActiveResourcesInfo() }, 'stopped')
      process.exitCode = 0
      setTimeout(() => {
        logger.error({ event: 'exit_forced', resources: process.getActiveResourcesInfo() }, 'handles left after stop')
        process.exit(0)
      }, 5_000).unref()
    })()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
