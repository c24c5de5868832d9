/** Checking a saved desired state against the config it is loaded with. */

import { validateWeights } from '../routing/weights.js'
import type { RolloutRecord } from './rollout-record.js'
import { StateError, type DesiredState, type ServiceState, type Weights } from './store.js'

/** Why a saved rollout cannot run on a config with `groups`, or undefined when it can. */
function rolloutProblem(name: string, rollout: RolloutRecord | undefined, groups: readonly string[]): string | undefined {
  if (rollout === undefined) return undefined
  if (!groups.includes(rollout.to)) return `services.${name}.rollout.to: group "${rollout.to}" is not in the config`
  const checked = validateWeights(rollout.before, groups)
  return checked.ok ? undefined : `services.${name}.rollout.before${checked.field === '' ? '' : `.${checked.field}`}: ${checked.message}`
}

/**
 * Lays a saved state over the config's weights. The saved weights win; services the file does
 * not mention keep the config's. A saved service or group the config no longer has refuses the
 * start rather than being dropped silently: the operator decides (edit the file or the config).
 */
export function mergeWithConfig(
  saved: DesiredState,
  config: ReadonlyMap<string, { readonly weights: Weights; readonly groups: readonly string[] }>,
  source: string,
): DesiredState {
  const services: Record<string, ServiceState> = {}
  for (const [name, service] of Object.entries(saved.services)) {
    const current = config.get(name)
    if (current === undefined) {
      throw new StateError(
        source,
        `service "${name}" is not in the config (services: ${[...config.keys()].join(', ')}); add it back or remove it from the state file`,
      )
    }
    const checked = validateWeights(service.weights, current.groups)
    if (!checked.ok) {
      const field = checked.field === '' ? '' : `.${checked.field}`
      throw new StateError(
        source,
        `services.${name}.weights${field}: ${checked.message}; fix the config or the state file`,
      )
    }
    const problem = rolloutProblem(name, service.rollout, current.groups)
    if (problem !== undefined) throw new StateError(source, `${problem}; fix the config or the state file`)
    services[name] = { ...service, weights: checked.weights }
  }
  for (const [name, service] of config) {
    if (services[name] === undefined) services[name] = { weights: service.weights }
  }
  const last = saved.history[saved.history.length - 1]
  if (last !== undefined && last.revision > saved.revision) {
    throw new StateError(source, `history has revision ${last.revision} above the state's revision ${saved.revision}`)
  }
  return { ...saved, services }
}

/** Why a reload cannot keep the desired state: a group it drops still has traffic. */
export interface ReloadConflict {
  readonly service: string
  readonly group: string
  readonly message: string
}

/**
 * The desired state under a reloaded config. The saved weights keep winning over the file's;
 * services the file no longer has leave the state, new ones start with the file's weights, and a
 * group the file dropped leaves its service's weights if its weight is 0. A dropped group that
 * still has a weight is a conflict: the operator moves its traffic first (weights, cut-over), so a
 * reload never shifts traffic by itself. Pure; `changed` says whether the state must be saved.
 */
export function reconcileOnReload(
  state: DesiredState,
  config: ReadonlyMap<string, { readonly weights: Weights; readonly groups: readonly string[] }>,
): { readonly state: DesiredState; readonly changed: boolean } | { readonly conflict: ReloadConflict } {
  const services: Record<string, ServiceState> = {}
  let changed = false
  for (const [name, current] of config) {
    const saved = state.services[name]
    if (saved === undefined) {
      services[name] = { weights: current.weights }
      changed = true
      continue
    }
    const kept: Record<string, number> = {}
    for (const [group, weight] of Object.entries(saved.weights)) {
      if (current.groups.includes(group)) kept[group] = weight
      else if (weight > 0) {
        return {
          conflict: {
            service: name,
            group,
            message: `group "${group}" is gone from the file but still has weight ${weight} in the desired state: set its weight to 0 (weights, cut-over) first, or keep it`,
          },
        }
      } else changed = true
    }
    const checked = validateWeights(kept, current.groups)
    if (!checked.ok) return { conflict: { service: name, group: checked.field, message: `desired weights ${checked.message}` } }
    services[name] = { ...saved, weights: checked.weights }
  }
  for (const name of Object.keys(state.services)) if (!config.has(name)) changed = true
  return { state: { ...state, services }, changed }
}

/**
 * The shared-store counterpart of mergeWithConfig: replicas may run different configs for a while
 * (a rolling upgrade adds a service or a group), so nothing is refused or dropped. Services the
 * config has and the state lacks get the config's weights; what does not fit this config is
 * kept for the replicas it fits, and listed in `problems` (the caller leaves those services'
 * routing as it is).
 */
export function overlayConfig(
  saved: DesiredState,
  config: ReadonlyMap<string, { readonly weights: Weights; readonly groups: readonly string[] }>,
): { state: DesiredState; problems: string[] } {
  const services: Record<string, ServiceState> = { ...saved.services }
  const problems: string[] = []
  for (const [name, service] of Object.entries(saved.services)) {
    const current = config.get(name)
    if (current === undefined) {
      problems.push(`service "${name}" is not in this replica's config`)
      continue
    }
    const checked = validateWeights(service.weights, current.groups)
    if (!checked.ok) problems.push(`services.${name}.weights${checked.field === '' ? '' : `.${checked.field}`}: ${checked.message}`)
    const problem = rolloutProblem(name, service.rollout, current.groups)
    if (problem !== undefined) problems.push(problem)
  }
  for (const [name, service] of config) {
    if (services[name] === undefined) services[name] = { weights: service.weights }
  }
  return { state: { ...saved, services }, problems }
}
