/** Reading a saved desired state: parse, check its shape, and check it against the config. */

import { z } from 'zod'
import { parseJson } from '../config/json.js'
import { validateWeights } from '../routing/weights.js'
import { STATE_FORMAT, StateError, type DesiredState, type ServiceState, type Weights } from './store.js'

const weightsSchema = z.record(z.string(), z.number())
const revisionSchema = z.number().int().min(0)

const stateSchema = z.object({
  format: z.literal(STATE_FORMAT),
  revision: revisionSchema,
  services: z.record(
    z.string(),
    z.object({
      weights: weightsSchema,
      cutover: z
        .object({
          revision: revisionSchema,
          to: z.string(),
          from: z.array(z.string()),
          startedAt: z.string(),
          drainSeconds: z.number().min(0),
        })
        .optional(),
    }),
  ),
  history: z.array(
    z.object({
      revision: revisionSchema,
      time: z.string(),
      service: z.string(),
      kind: z.enum(['weights', 'cutover', 'rollback']),
      before: weightsSchema,
      after: weightsSchema,
      reason: z.string().optional(),
      to: z.string().optional(),
      undid: revisionSchema.optional(),
      undone: z.boolean().optional(),
    }),
  ),
})

/** Parses a state file's text; throws a one-line StateError naming `source`, the field and the problem. */
export function parseState(text: string, source: string): DesiredState {
  const parsed = parseJson(text)
  if (!parsed.ok) {
    throw new StateError(
      source,
      `invalid JSON at line ${parsed.line}, column ${parsed.column}: ${parsed.problem} (truncated or edited by hand?); the file was left as it is`,
    )
  }
  const result = stateSchema.safeParse(parsed.value)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const field = issue.path.map(String).join('.')
    throw new StateError(source, `${field === '' ? '' : `${field}: `}${issue.message}; the file was left as it is`)
  }
  return result.data as DesiredState
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
