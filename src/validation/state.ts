/**
 * Reading a saved desired state: parse and check its shape with zod. FileStore runs this in a worker
 * thread (see off-thread.ts for why); merge.ts then checks it against the config.
 */

import { z } from 'zod'
import { parseJson } from '../support/json.js'
import { STATE_FORMAT, StateError, type DesiredState } from '../state/store.js'

const weightsSchema = z.record(z.string(), z.number())
const revisionSchema = z.number().int().min(0)

const groupFiguresSchema = z.object({
  requests: z.number().min(0),
  errorRate: z.number().min(0).max(1).nullable(),
  p99Ms: z.number().min(0).nullable(),
})

const figuresSchema = z.object({
  seconds: z.number().min(0),
  replicas: z.number().int().min(0),
  canary: groupFiguresSchema,
  baseline: groupFiguresSchema,
  baselineFromStep: z.number().int().min(1).optional(),
})

const rolloutSchema = z.object({
  id: z.string().min(1),
  changeId: z.string().optional(),
  to: z.string(),
  before: weightsSchema,
  steps: z.array(z.number().gt(0).max(100)).min(1),
  stepSeconds: z.number().gt(0),
  analysis: z.object({
    maxErrorRate: z.number().min(0).max(1),
    maxP99Ms: z.number().gt(0).optional(),
    minRequests: z.number().int().min(1),
    compareToBaseline: z.boolean(),
    maxWaitSeconds: z.number().min(0),
  }),
  finish: z.enum(['cutover', 'weights']),
  drainSeconds: z.number().min(0),
  phase: z.enum(['running', 'paused', 'finishing', 'completed', 'failed', 'aborted']),
  step: z.number().int().min(0),
  window: z.string(),
  windowStartedAt: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  reason: z.string().optional(),
  results: z.array(
    z.object({
      step: z.number().int().min(1),
      weight: z.number(),
      result: z.enum(['passed', 'promoted']),
      at: z.string(),
      figures: figuresSchema.nullable(),
    }),
  ),
  failed: z
    .array(z.object({ check: z.enum(['errorRate', 'p99']), canary: z.number(), baseline: z.number().optional(), limit: z.number() }))
    .optional(),
  figures: figuresSchema.optional(),
  cutoverAt: z.string().optional(),
  drain: z
    .object({ outcome: z.string(), inflightAtStart: z.number(), completed: z.number(), cut: z.number(), remaining: z.number() })
    .optional(),
}).refine((rollout) => rollout.step < rollout.steps.length, { error: 'beyond the last step', path: ['step'] })

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
      rollout: rolloutSchema.optional(),
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
      rollout: z.string().optional(),
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
