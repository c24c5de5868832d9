/**
 * Where the weights in force come from: the state store's desired weights win over the config
 * file's. Users are told when the two differ (log at start and reload, status).
 */
import type { Logger } from '../support/log.js'
import type { Weights } from '../state/store.js'
import { equivalentWeights } from '../routing/weights.js'
import type { ControlPlane } from './plane.js'

/** Says which services' saved weights win over the config file's, as they differ (at start and at every reload); returns them. */
export function logWeightsFromState(plane: ControlPlane, logger: Logger): WeightsFromState[] {
  const differing = weightsFromState(plane)
  for (const { service, weights, file } of differing) {
    logger.info(
      { event: 'weights_from_state', service, weights, file },
      `service ${service}: the desired weights from the state store win over the config file's (set them with the admin API or the CLI)`,
    )
  }
  return differing
}

/** A service whose weights in force (the state store's) differ from the config file's. */
export interface WeightsFromState {
  readonly service: string
  readonly weights: Weights
  readonly file: Weights
}

/** Services whose weights in force (the state store's) differ from the config file's. */
function weightsFromState(plane: ControlPlane): WeightsFromState[] {
  const differing: WeightsFromState[] = []
  for (const service of plane.config.services) {
    const weights = plane.weightsOf(service.name)
    if (!equivalentWeights(weights, service.weights)) differing.push({ service: service.name, weights, file: service.weights })
  }
  return differing
}

