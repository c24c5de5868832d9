import type { Certificates } from '../../config/certificates.js'
import type { Config } from '../../config/types.js'
import { startProxy, type RunningProxy } from '../../main.js'
import type { Logger } from '../../support/log.js'
import { WorkerPool, type WorkerPoolOptions } from './workers.js'

/**
 * `serve --workers N`: this process (the primary) runs the control side once (config, state,
 * discovery, health, admin API, snapshots) and N worker processes run the data plane. It starts
 * stops and reloads like a single process (`RunningProxy`: the primary pushes the new config to its
 * workers); SIGUSR2 (`restartWorkers()`) restarts the workers one at a time.
 */
export function startCluster(
  config: Config,
  logger: Logger,
  options: WorkerPoolOptions & { readonly configPath: string; readonly certificates: Certificates },
): Promise<RunningProxy> {
  return startProxy(config, logger, {
    configPath: options.configPath,
    certificates: options.certificates,
    dataSide: (outcomes) => new WorkerPool(config, options.certificates, logger, outcomes, options),
  })
}
