/**
 * The composition root: the only module that wires the parts together. Config → discovery and
 * health facts → control plane → snapshot specs → the data side (the local data plane, or the
 * cluster's workers), whose outcomes flow back into health.
 */
import type { Config } from './config/types.js'
import { startDiscovery } from './control/discovery.js'
import { ControlPlane } from './control/plane.js'
import type { DataPlaneLink } from './control/ports.js'
import { prepareControl } from './control/start.js'
import { acceptsConnection } from './health/active.js'
import { HealthMonitor } from './health/monitor.js'
import { DataPlane, type ListeningService } from './proxy/data-plane.js'
import type { SnapshotSpec } from './routing/spec.js'
import type { Logger } from './support/log.js'
import type { OutcomeSink } from './upstream/outcomes.js'

/**
 * Where requests are served: the single process's own data plane, or the workers of `serve
 * --workers N`. The control side pushes it every snapshot spec and reads it through DataPlaneLink.
 */
export interface DataSide extends DataPlaneLink {
  /** Routes with this spec from the next request on. */
  apply(spec: SnapshotSpec): void
  /** Opens the listeners (in a cluster: once the first worker listens). */
  start(): Promise<readonly ListeningService[]>
  /** Stops accepting; in-flight requests finish within `graceMs`; then everything closes. */
  stop(graceMs: number): Promise<void>
  /** SIGHUP: restarts the workers one at a time (a single process has none). */
  restart?(): Promise<void>
}

/** Builds the data side; it reports outcomes to `outcomes` (health). */
export type DataSideFactory = (outcomes: OutcomeSink) => DataSide

/** A started proxy: its control plane, its ports, and how to stop it. */
export interface RunningProxy {
  readonly plane: ControlPlane
  readonly logger: Logger
  /** Bound ports per service name. */
  readonly ports: ReadonlyMap<string, number>
  /** Bound port of the admin API; undefined without `admin` in the config. */
  readonly adminPort: number | undefined
  /** What SIGHUP does: restarts the workers one at a time, or says a single process ignores it. */
  hangup(): void
  /** Stops the data side (in-flight requests finish within `graceMs`), then the control side. */
  stop(graceMs?: number): Promise<void>
}

/** The single process's data side: one DataPlane in this process. */
export function localDataSide(config: Config, logger: Logger): DataSideFactory {
  return (outcomes) => new DataPlane(config, { outcomes, logger })
}

/**
 * How long the start waits for the first health and readiness results of the instances discovery
 * found, so the first requests do not find every instance still unchecked (and get 503).
 */
const FIRST_CHECKS_WAIT_MS = 5_000

/** How long a cut-over waits for each target instance to accept a TCP connection. */
const CUTOVER_PROBE_MS = 2_000

/**
 * Starts the proxy: the control side (plane, health, saved state, discovery, admin API) in this
 * process, and the data side `makeDataSide` builds (by default, the data plane in this process too).
 */
export async function startProxy(
  config: Config,
  logger: Logger,
  makeDataSide: DataSideFactory = localDataSide(config, logger),
): Promise<RunningProxy> {
  const plane = new ControlPlane(config, logger)
  // Health follows the instances before discovery reports any, so none is live unchecked.
  const health = new HealthMonitor(config.services, { instances: plane, verdicts: plane, events: plane.events }, logger)
  health.start()
  const dataSide = makeDataSide(health)
  const unsubscribe = plane.onSpec((spec) => dataSide.apply(spec))
  dataSide.apply(plane.spec)
  let control: Awaited<ReturnType<typeof prepareControl>> | undefined
  let discovery: ReturnType<typeof startDiscovery> | undefined
  const stopControlSide = async () => {
    await control?.close()
    discovery?.stop()
    health.stop()
    unsubscribe()
  }
  const ports = new Map<string, number>()
  let adminPort: number | undefined
  try {
    // The saved desired state applies before any listener opens (an unusable state file stops the start).
    control = await prepareControl(config, plane, dataSide, (address) => acceptsConnection(address, CUTOVER_PROBE_MS), logger)
    discovery = startDiscovery(config, plane, logger)
    await discovery.firstAnswers
    health.markStarted()
    const unjudged = await health.firstVerdicts(FIRST_CHECKS_WAIT_MS)
    if (unjudged.length > 0) {
      logger.warn({ event: 'first_checks_pending', instances: unjudged }, 'opening the listeners before every instance answered its first checks')
    }
    for (const { service, host, port } of await dataSide.start()) {
      ports.set(service, port)
      logger.info({ event: 'listening', service, host, port }, 'proxy listening')
    }
    adminPort = await control.listen()
  } catch (error) {
    await dataSide.stop(0)
    await stopControlSide()
    throw error
  }

  let stopping: Promise<void> | undefined
  return {
    plane,
    logger,
    ports,
    adminPort,
    hangup() {
      if (dataSide.restart !== undefined) void dataSide.restart()
      else logger.warn({ event: 'sighup_ignored' }, 'SIGHUP ignored: rolling restarts need --workers; restart to reload the config')
    },
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        await dataSide.stop(graceMs)
        await stopControlSide()
      })()
      return stopping
    },
  }
}
