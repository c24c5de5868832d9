/**
 * Where the weights in force come from: the state store's desired weights win over the config
 * file's. Users are told when the two differ (log at start and reload, status).
 */
import type { Logger } from '../support/log.js'
import type { Weights } from '../state/store.js'
import type { ControlPlane } from './plane.js'

/** Says which services' saved weights win over the config file's, as they differ (at start and at every reload). */
export function logWeightsFromState(plane: ControlPlane, logger: Logger): void {
  for (const { service, weights, file } of weightsFromState(plane)) {
    logger.info(
      { event: 'weights_from_state', service, weights, file },
      `service ${service}: the desired weights from the state store win over the config file's (set them with the admin API or the CLI)`,
    )
  }
}

/** Services whose weights in force (the state store's) differ from the config file's. */
export function weightsFromState(plane: ControlPlane): { service: string; weights: Weights; file: Weights }[] {
  const differing: { service: string; weights: Weights; file: Weights }[] = []
  for (const service of plane.config.services) {
    const weights = plane.weightsOf(service.name)
    if (!sameWeights(weights, service.weights)) differing.push({ service: service.name, weights, file: service.weights })
  }
  return differing
}

/** Equal weights; a group left out weighs 0. */
export function sameWeights(a: Weights, b: Weights): boolean {
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if ((Object.hasOwn(a, name) ? a[name] : 0) !== (Object.hasOwn(b, name) ? b[name] : 0)) return false
  }
  return true
}
