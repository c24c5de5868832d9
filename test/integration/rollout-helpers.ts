/** Shared by the rollout-*.test.ts files: a proxy with a baseline and a canary group, and rollout calls. */

import type { LoadRecord } from '../helpers/constant-load.js'
import { admin, controlConfig, startControlledProxy, startSimpleService, stateDir, type ControlledProxy, type Service } from './control-helpers.js'

export interface RolloutLab {
  readonly proxy: ControlledProxy
  readonly baseline: Service
  readonly canary: Service
  readonly statePath: string
}

/**
 * simpleservice 0.9 (the baseline, all the traffic) and 1.0 (the canary, none yet) behind a proxy
 * with a state file; `canaryEnv`/`baselineEnv` make either misbehave (FAIL_RATE, LATENCY_MS).
 * Passive 5xx ejection is off unless `service` says otherwise: it would take the only canary
 * instance out mid-window and these tests are about the rollout's own judgement.
 */
export async function rolloutLab(options: { canaryEnv?: Record<string, string>; baselineEnv?: Record<string, string>; service?: Record<string, unknown> } = {}): Promise<RolloutLab> {
  const [baseline, canary] = await Promise.all([startSimpleService('0.9', options.baselineEnv), startSimpleService('1.0', options.canaryEnv)])
  const statePath = `${stateDir()}/state.json`
  const proxy = await startControlledProxy(
    controlConfig(
      { '0.9': [baseline!.address], '1.0': [canary!.address] },
      { '0.9': 100, '1.0': 0 },
      { statePath, service: { drainSeconds: 5, outlierDetection: { consecutive5xx: 0 }, ...options.service } },
    ),
  )
  return { proxy, baseline: baseline!, canary: canary!, statePath }
}

/** Starts a rollout of `svc` to 1.0 and expects 201. */
export async function startRollout(adminUrl: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const answer = await admin(adminUrl, 'POST', '/v1/services/svc/rollouts', { to: '1.0', ...body })
  if (answer.status !== 201) throw new Error(`POST rollouts: ${answer.status} ${JSON.stringify(answer.json)}`)
  return answer.json
}

/** The rollout as `GET /v1/services/svc/rollout` shows it. */
export async function rolloutOf(adminUrl: string): Promise<Record<string, any>> {
  return (await admin(adminUrl, 'GET', '/v1/services/svc/rollout')).json.rollout
}

/** The version that answered a load record (simpleservice names it in success and FAIL_RATE bodies alike), or undefined. */
export function versionOf(record: LoadRecord): string | undefined {
  try {
    return (JSON.parse(record.body) as { version?: string }).version
  } catch {
    return undefined
  }
}
