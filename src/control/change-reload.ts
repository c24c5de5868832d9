import { ConfigError } from '../config/errors.js'
import type { ServiceConfig } from '../config/types.js'
import { FileStore } from '../state/file-store.js'
import { overlayConfig, reconcileOnReload } from '../state/merge.js'
import { isShared } from '../state/shared.js'
import type { DesiredState, StateStore, Weights } from '../state/store.js'
import type { DrainTracker } from './drain.js'

/** What a reload reconciles: the change controller's state, its store and its drains. */
export interface ReloadSubject {
  readonly state: DesiredState
  readonly store: StateStore | undefined
  readonly drains: DrainTracker
  /** Makes `state` the one in force, quietly: the reload routes and announces the new config itself. */
  readonly replace: (state: DesiredState) => void
}

/**
 * The desired state under a reloaded config (run while no change can interleave): the saved
 * weights keep winning, services and weight-0 groups the file dropped leave it, new services get
 * the file's weights; saved before it is in force. Returns every service's weights. Throws a
 * ConfigError naming `source` when a dropped group still has traffic; nothing changed then.
 */
export async function reconcileReload(subject: ReloadSubject, services: readonly ServiceConfig[], source: string): Promise<Map<string, Weights>> {
  const { state, store, drains } = subject
  const config = new Map(services.map((service) => [service.name, { weights: service.weights, groups: service.groups.map((group) => group.name) }]))
  if (store === undefined) {
    // Read-only weights are the file's: nothing else could have changed them.
    const weights = new Map(services.map((service) => [service.name, service.weights]))
    subject.replace({ ...state, services: Object.fromEntries([...weights].map(([name, value]) => [name, { weights: value }])) })
    return weights
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
    subject.replace(overlayConfig(state, config).state)
    return weights
  }
  if (result.changed && store instanceof FileStore) {
    try {
      await store.save(result.state)
    } catch (error) {
      throw new ConfigError(source, '', `cannot save the desired state for the new config: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  subject.replace(result.state)
  return weights
}
