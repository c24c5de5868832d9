import { ConfigError } from '../config/errors.js'
import type { ServiceConfig } from '../config/types.js'
import { FileStore } from '../state/file-store.js'
import { overlayConfig, reconcileOnReload } from '../state/merge.js'
import { isShared } from '../state/shared.js'
import type { DesiredState, StateStore, Weights } from '../state/store.js'
import type { DrainTracker } from './drain.js'

/**
 * The desired state under a reloaded config (run while no change can interleave): the saved
 * weights keep winning, services and weight-0 groups the file dropped leave it, new services get
 * the file's weights; saved before it is in force. Returns every service's weights. Throws a
 * ConfigError naming `source` when a dropped group still has traffic; nothing changed then. The
 * state it returns is to be put in force quietly: the reload routes and announces the new config.
 */
export async function reconcileReload(
  state: DesiredState,
  store: StateStore | undefined,
  drains: DrainTracker,
  services: readonly ServiceConfig[],
  source: string,
): Promise<{ state: DesiredState; weights: Map<string, Weights> }> {
  const config = new Map(services.map((service) => [service.name, { weights: service.weights, groups: service.groups.map((group) => group.name) }]))
  if (store === undefined) {
    // Read-only weights are the file's: nothing else could have changed them.
    const weights = new Map(services.map((service) => [service.name, service.weights]))
    return { state: { ...state, services: Object.fromEntries([...weights].map(([name, value]) => [name, { weights: value }])) }, weights }
  }
  const result = reconcileOnReload(state, config)
  if ('conflict' in result) {
    const index = services.findIndex((service) => service.name === result.conflict.service)
    throw new ConfigError(source, ['services', index, 'groups'], result.conflict.message)
  }
  for (const name of Object.keys(state.services)) if (!config.has(name)) drains.supersede(name)
  const weights = new Map(Object.entries(result.state.services).map(([name, service]) => [name, service.weights]))
  if (isShared(store)) {
    // Other replicas may still run the services and groups this file dropped: the shared state
    // keeps them, and this replica routes by what fits its config.
    return { state: overlayConfig(state, config).state, weights }
  }
  if (result.changed && store instanceof FileStore) {
    try {
      await store.save(result.state)
    } catch (error) {
      throw new ConfigError(source, '', `cannot save the desired state for the new config: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { state: result.state, weights }
}
