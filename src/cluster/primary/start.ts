import type { Config } from '../../config/types.js'
import { startProxy, type RunningProxy } from '../../main.js'
import type { Logger } from '../../support/log.js'
import { WorkerPool, type WorkerPoolOptions } from './workers.js'

/**
 * `serve --workers N`: this process (the primary) runs the control side once (config, state,
 * discovery, health, admin API, snapshots) and N worker processes run the data plane. It starts
 * and stops like a single process (`RunningProxy`); SIGHUP (`hangup()`) restarts the workers one
 * at a time.
 */
export function startCluster(config: Config, logger: Logger, options: WorkerPoolOptions): Promise<RunningProxy> {
  return startProxy(config, logger, (outcomes) => new WorkerPool(config, logger, outcomes, options))
}
