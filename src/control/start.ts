import type { Config } from '../config/types.js'
import type { Logger } from '../support/log.js'
import { FileStore } from '../state/file-store.js'
import { mergeWithConfig } from '../state/merge.js'
import { initialState, type StateStore } from '../state/store.js'
import { ChangeController, configWeights } from './changes.js'
import { DrainTracker } from './drain.js'
import { createMetrics } from './metrics.js'
import type { ControlPlane } from './plane.js'
import type { ConfigReload, ConnectProbe, DataPlaneLink } from './ports.js'
import { SeriesSampler } from './series.js'
import { AdminServer } from './server.js'
import { EventStream } from './sse.js'
import { UiFiles } from './ui-files.js'
import { logWeightsFromState } from './weights-source.js'

/** The control side of a running proxy: desired state, drains, and the admin listener. */
export interface Control {
  readonly changes: ChangeController
  /** Opens the admin listener when the config has `admin`; returns its port. */
  listen(): Promise<number | undefined>
  /** A reload's admin tokens (the rest of `admin` cannot change while running). */
  reconfigure(config: Config): void
  /** Closes the admin listener and cancels drain deadlines. */
  close(): Promise<void>
}

/**
 * Loads the desired state over the config's weights and applies it to the plane, before any
 * listener opens. Without `state` in the config the weights are the config's and read-only.
 * An unreadable, corrupt or mismatching state file throws a one-line StateError naming the file.
 */
export async function prepareControl(
  config: Config,
  plane: ControlPlane,
  dataPlanes: DataPlaneLink,
  acceptsConnection: ConnectProbe,
  logger: Logger,
  reload?: ConfigReload,
): Promise<Control> {
  let store: StateStore | undefined
  let state = initialState(configWeights(plane))
  if (config.state !== undefined) {
    const fileStore = new FileStore(config.state.path)
    const saved = await fileStore.load()
    if (saved !== undefined) {
      const groups = new Map(
        config.services.map((service) => [
          service.name,
          { weights: plane.weightsOf(service.name), groups: service.groups.map((group) => group.name) },
        ]),
      )
      state = mergeWithConfig(saved, groups, fileStore.path)
      for (const [name, service] of Object.entries(state.services)) plane.setWeights(name, service.weights)
      logWeightsFromState(plane, logger)
    }
    await fileStore.prepare()
    store = fileStore
    logger.info(
      { event: 'state_loaded', path: fileStore.path, revision: state.revision, found: saved !== undefined },
      saved === undefined ? `no saved state at ${fileStore.path}: using the config's weights` : `desired state loaded from ${fileStore.path}`,
    )
  }
  const drains = new DrainTracker(dataPlanes, plane.events, logger, (service, groups) => plane.setDrainingGroups(service, groups))
  const changes = new ChangeController(plane, store, state, drains, acceptsConnection, logger)
  let server: AdminServer | undefined
  let series: SeriesSampler | undefined

  return {
    changes,
    async listen() {
      if (config.admin === undefined) return undefined
      const { host, port, token, readToken, maxEventStreams } = config.admin
      // Sampled only where someone can read it: the admin API's series endpoint.
      series = new SeriesSampler(dataPlanes.stats)
      series.start()
      server = new AdminServer({
        host,
        port,
        token,
        readToken,
        logger,
        context: {
          plane,
          changes,
          dataPlanes,
          metrics: createMetrics(plane, dataPlanes.stats, () => changes.revision),
          events: new EventStream(plane.events, maxEventStreams),
          series,
          ui: await UiFiles.load(),
          reload,
        },
      })
      const bound = await server.listen()
      logger.info({ event: 'admin_listening', host, port: bound, auth: token !== undefined }, 'admin API listening')
      return bound
    },
    reconfigure(next) {
      server?.setTokens(next.admin?.token, next.admin?.readToken)
    },
    async close() {
      drains.stop()
      series?.stop()
      await server?.close()
    },
  }
}
