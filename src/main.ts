/**
 * The composition root: the only module that wires the parts together. Config → discovery and
 * health facts → control plane → snapshot specs → the data side (the local data plane, or the
 * cluster's workers), whose outcomes flow back into health. A reload (reload.ts) walks the same
 * parts with a new config.
 */
import { NO_CERTIFICATES, type Certificates } from './config/certificates.js'
import type { Config } from './config/types.js'
import { startDiscovery } from './control/discovery.js'
import { ControlPlane } from './control/plane.js'
import type { DataPlaneLink, ReloadSummary } from './control/ports.js'
import { prepareControl } from './control/start.js'
import { acceptsConnection } from './health/active.js'
import { HealthMonitor } from './health/monitor.js'
import { DataPlane, type ListeningService } from './proxy/data-plane.js'
import { ConfigReloader, logCertificate } from './reload.js'
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
  /**
   * A reload: everything but the listeners follows `config` now (the next spec brings its
   * instances); requests running finish as they started.
   */
  reconfigure(config: Config, certificates: Certificates): void
  /** Makes the listeners match the config: opens new ones, closes removed ones gracefully. */
  listen(): Promise<readonly ListeningService[]>
  /** Stops accepting; in-flight requests finish within `graceMs`; then everything closes. */
  stop(graceMs: number): Promise<void>
  /** Restarts the workers one at a time (a single process has none). */
  restart?(): Promise<void>
}

/** Builds the data side; it reports outcomes to `outcomes` (health). */
export type DataSideFactory = (outcomes: OutcomeSink) => DataSide

/** A started proxy: its control plane, its ports, and how to stop it. */
export interface RunningProxy {
  readonly plane: ControlPlane
  readonly logger: Logger
  /** Bound ports per service name (a reload updates them). */
  readonly ports: ReadonlyMap<string, number>
  /** Bound port of the admin API; undefined without `admin` in the config. */
  readonly adminPort: number | undefined
  /** SIGHUP: re-reads the config file; a failure is logged and changes nothing. */
  hangup(): void
  /** Re-reads the config file and applies it whole; rejects with a ConfigError and changes nothing when it cannot. */
  reload(): Promise<ReloadSummary>
  /** SIGUSR2: restarts the workers one at a time, or says a single process has none. */
  restartWorkers(): void
  /** Stops the data side (in-flight requests finish within `graceMs`), then the control side. */
  stop(graceMs?: number): Promise<void>
}

/** How a proxy starts besides its config. */
export interface StartOptions {
  /** The config file, re-read by a reload; absent (the demo): no reload. */
  readonly configPath?: string
  /** The certificates the config names, read and checked (loadCertificates). */
  readonly certificates?: Certificates
  /** The data side (default: the data plane in this process). */
  readonly dataSide?: DataSideFactory
}

/** The single process's data side: one DataPlane in this process. */
export function localDataSide(config: Config, logger: Logger, certificates: Certificates): DataSideFactory {
  return (outcomes) => new DataPlane(config, { outcomes, logger, certificates })
}

/** How long a cut-over waits for each target instance to accept a TCP connection. */
const CUTOVER_PROBE_MS = 2_000

/**
 * Starts the proxy: the control side (plane, health, saved state, discovery, admin API) in this
 * process, and the data side (by default, the data plane in this process too).
 */
export async function startProxy(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningProxy> {
  const certificates = options.certificates ?? NO_CERTIFICATES
  const plane = new ControlPlane(config, logger)
  // Health follows the instances before discovery reports any, so none is live unchecked.
  const health = new HealthMonitor(config.services, { instances: plane, verdicts: plane, events: plane.events }, logger)
  health.start()
  const dataSide = (options.dataSide ?? localDataSide(config, logger, certificates))(health)
  const unsubscribe = plane.onSpec((spec) => dataSide.apply(spec))
  dataSide.apply(plane.spec)
  let control: Awaited<ReturnType<typeof prepareControl>> | undefined
  let discovery: ReturnType<typeof startDiscovery> | undefined
  let reloader: ConfigReloader | undefined
  const stopControlSide = async () => {
    await control?.close()
    discovery?.stop()
    health.stop()
    unsubscribe()
  }
  const ports = new Map<string, number>()
  let adminPort: number | undefined
  for (const certificate of certificates.summaries) logCertificate(logger, certificate)
  try {
    const reload = options.configPath === undefined ? undefined : () => reloader!.reload()
    // The saved desired state applies before any listener opens (an unusable state file stops the start).
    control = await prepareControl(config, plane, dataSide, (address) => acceptsConnection(address, CUTOVER_PROBE_MS), logger, reload)
    discovery = startDiscovery(config, plane, logger)
    await discovery.firstAnswers
    await health.settle()
    for (const { service, host, port } of await dataSide.start()) {
      ports.set(service, port)
      logger.info({ event: 'listening', service, host, port }, 'proxy listening')
    }
    adminPort = await control.listen()
    if (options.configPath !== undefined) {
      reloader = new ConfigReloader({ path: options.configPath, config, plane, health, discovery, control, dataSide, ports, logger })
    }
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
      if (reloader === undefined) logger.warn({ event: 'sighup_ignored' }, 'SIGHUP ignored: this proxy runs without a config file to re-read')
      // A failed reload is logged by the reloader and changes nothing.
      else reloader.reload().catch(() => {})
    },
    reload() {
      if (reloader === undefined) return Promise.reject(new Error('this proxy runs without a config file to re-read'))
      return reloader.reload()
    },
    restartWorkers() {
      if (dataSide.restart !== undefined) void dataSide.restart()
      else logger.warn({ event: 'restart_ignored' }, 'SIGUSR2 ignored: rolling restarts are for --workers')
    },
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        await reloader?.stop()
        await dataSide.stop(graceMs)
        await stopControlSide()
      })()
      return stopping
    },
  }
}
