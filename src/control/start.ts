import type { Config, EtcdStateConfig } from '../config/types.js'
import { validateWeights } from '../routing/weights.js'
import type { Logger } from '../support/log.js'
import { FileStore } from '../state/file-store.js'
import { mergeWithConfig } from '../state/merge.js'
import { isShared, type SharedStoreListener } from '../state/shared.js'
import { initialState, type DesiredState, type StateStore, type Weights } from '../state/store.js'
import { clusterView } from './cluster.js'
import { ClusterDrains } from './cluster-drains.js'
import { ChangeController, configWeights } from './changes.js'
import { DrainTracker } from './drain.js'
import { createMetrics } from './metrics.js'
import type { ControlPlane } from './plane.js'
import type { ConfigReload, ConnectProbe, DataPlaneLink } from './ports.js'
import { RolloutCounts } from './rollout-counts.js'
import { Rollouts } from './rollouts.js'
import { SeriesSampler } from './series.js'
import { SplitAccuracy } from './split-accuracy.js'
import { AdminServer } from './server.js'
import { EventStream } from './sse.js'
import { UiFiles } from './ui-files.js'
import { logWeightsFromState } from './weights-source.js'

/** The control side of a running proxy: desired state, drains, rollouts, and the admin listener. */
export interface Control {
  readonly changes: ChangeController
  readonly rollouts: Rollouts
  /** Opens the admin listener when the config has `admin`; returns its port. */
  listen(): Promise<number | undefined>
  /** A reload's admin tokens (the rest of `admin` cannot change while running). */
  reconfigure(config: Config): void
  /** Closes the admin listener and cancels drain deadlines. */
  close(): Promise<void>
}

/** Each configured service's weights and group names, which a saved state is checked against. */
function configShape(plane: ControlPlane): Map<string, { weights: Weights; groups: string[] }> {
  return new Map(
    plane.config.services.map((service) => [service.name, { weights: plane.weightsOf(service.name), groups: service.groups.map((group) => group.name) }]),
  )
}

/** Routes with the saved weights of the services this config has (those that fit it). */
function applyWeights(plane: ControlPlane, state: DesiredState): void {
  for (const service of plane.config.services) {
    const weights = state.services[service.name]?.weights
    if (weights === undefined) continue
    const checked = validateWeights(weights, service.groups.map((group) => group.name))
    if (checked.ok) plane.setWeights(service.name, checked.weights)
  }
}

/** The file store: a saved state that does not fit the config stops the start. */
async function openFileStore(config: Config, path: string, plane: ControlPlane, logger: Logger): Promise<{ store: StateStore; state: DesiredState }> {
  const fileStore = new FileStore(path)
  const saved = await fileStore.load()
  let state = initialState(configWeights(plane))
  if (saved !== undefined) {
    state = mergeWithConfig(saved, configShape(plane), fileStore.path)
    applyWeights(plane, state)
  }
  await fileStore.prepare()
  logger.info(
    { event: 'state_loaded', path: fileStore.path, revision: state.revision, found: saved !== undefined },
    saved === undefined ? `no saved state at ${fileStore.path}: using the config's weights` : `desired state loaded from ${fileStore.path}`,
  )
  return { store: fileStore, state }
}

/** Where a shared store's news goes once the controller exists; what came before is kept until then. */
class StoreEvents implements SharedStoreListener {
  changes: ChangeController | undefined
  peers: ClusterDrains | undefined
  #early: DesiredState | undefined

  state(state: DesiredState): void {
    if (this.changes === undefined) this.#early = state
    else this.changes.fromStore(state)
  }

  membership(): void {
    this.peers?.check()
  }

  attach(changes: ChangeController, peers: ClusterDrains): void {
    this.changes = changes
    this.peers = peers
    if (this.#early !== undefined) changes.fromStore(this.#early)
    this.#early = undefined
    peers.check()
  }
}

/** etcd: serves from the store, or from the cache (then the config) while it cannot be reached. */
async function openEtcdStore(config: Config, settings: EtcdStateConfig, plane: ControlPlane, listener: StoreEvents, logger: Logger) {
  // Loaded only when used: the gRPC client is large, and a file-store proxy has no use for it.
  const { EtcdStore } = await import('../state/etcd-store.js')
  const store = new EtcdStore({ ...settings, config: () => configShape(plane), logger })
  const loaded = await store.open(listener)
  const state = loaded ?? initialState(configWeights(plane))
  applyWeights(plane, state)
  const fields = { event: 'state_loaded', store: 'etcd', source: store.source, revision: state.revision, replica: store.replicaId }
  if (store.source === 'store') {
    logger.info(fields, loaded === undefined ? 'no desired state in etcd yet: using the config\'s weights' : `desired state loaded from etcd at revision ${state.revision}`)
  } else {
    const from = store.source === 'cache' ? `the cached state of revision ${state.revision} from ${settings.cachePath}` : 'the config\'s weights (no usable cache)'
    logger.warn({ ...fields, error: store.lastError }, `etcd is unreachable at start (${store.lastError ?? 'no answer'}): serving ${from}; reconnecting in the background`)
  }
  return { store, state }
}

/**
 * Loads the desired state over the config's weights and applies it to the plane, before any
 * listener opens. Without `state` in the config the weights are the config's and read-only.
 * An unreadable, corrupt or mismatching state file throws a one-line StateError naming the file.
 * With etcd the state comes from the store (or, while it is down, the cache) and keeps arriving.
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
  const listener = new StoreEvents()
  if (config.state?.store === 'file') ({ store, state } = await openFileStore(config, config.state.path, plane, logger))
  if (config.state?.store === 'etcd') ({ store, state } = await openEtcdStore(config, config.state, plane, listener, logger))
  logWeightsFromState(plane, logger)
  const peers = isShared(store) ? new ClusterDrains(store, plane.events, logger) : undefined
  const drains = new DrainTracker(dataPlanes, plane.events, logger, (service, groups) => plane.setDrainingGroups(service, groups), peers)
  const changes = new ChangeController(plane, store, state, drains, acceptsConnection, logger)
  if (peers !== undefined) {
    // This replica had nothing in flight on groups cut over before it started.
    for (const [service, { cutover }] of Object.entries(state.services)) {
      if (cutover !== undefined && plane.service(service) !== undefined) drains.joined({ service, ...cutover })
    }
    listener.attach(changes, peers)
  }
  const rollouts = new Rollouts(plane, changes, new RolloutCounts(dataPlanes.stats, isShared(store) ? store : undefined), drains, store, logger)
  rollouts.start()
  let server: AdminServer | undefined
  let series: SeriesSampler | undefined
  let splits: SplitAccuracy | undefined

  return {
    changes,
    rollouts,
    async listen() {
      if (config.admin === undefined) return undefined
      const { host, port, token, readToken, maxEventStreams } = config.admin
      // Sampled only where someone can read it: the admin API's series endpoint.
      series = new SeriesSampler(dataPlanes.stats)
      series.start()
      splits = new SplitAccuracy(dataPlanes.stats, () => plane.config.services, (service) => plane.weightsOf(service), plane.events, logger)
      splits.start()
      const shared = isShared(store) ? store : undefined
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
          metrics: createMetrics(plane, dataPlanes.stats, splits, () => changes.revision, store === undefined ? undefined : () => shared?.connected ?? true),
          events: new EventStream(plane.events, maxEventStreams),
          series,
          splits,
          ui: await UiFiles.load(),
          cluster: () => clusterView(store, changes.revision, rollouts.driver),
          rollouts,
          reload,
        },
      })
      const bound = await server.listen()
      logger.info({ event: 'admin_listening', host, port: bound, auth: token !== undefined }, 'admin API listening')
      return bound
    },
    reconfigure(next) {
      server?.setTokens(next.admin?.token, next.admin?.readToken)
      series?.reconfigure()
      splits?.reconfigure()
    },
    async close() {
      rollouts.stop()
      drains.stop()
      series?.stop()
      splits?.stop()
      await server?.close()
      if (isShared(store)) await store.close()
    },
  }
}
