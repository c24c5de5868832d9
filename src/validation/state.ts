/**
 * Reading a saved desired state: parse and check its shape with zod. FileStore runs this in a worker
 * thread (see off-thread.ts for why); merge.ts then checks it against the config.
 */

import { z } from 'zod'
import { parseJson } from '../support/json.js'
import { STATE_FORMAT, StateError, type DesiredState } from '../state/store.js'

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
      id: z.string().optional(),
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
