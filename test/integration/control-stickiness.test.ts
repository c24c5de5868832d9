import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { runCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { agent, controlConfig, startControlledProxy, startSimpleService, stateDir } from './control-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

interface CanaryJson {
  clients: number
  versions: Record<string, number>
  stickyViolations: number
  errors: number
  moved?: Record<string, number>
}

it('moves no canary client back to the old version when the canary grows from 20 % to 50 % through the API', async () => {
  const instances = await Promise.all(['0.9', '0.9', '1.0'].map((version) => startSimpleService(version)))
  const proxy = await startControlledProxy(
    controlConfig(
      { '0.9': [instances[0]!.address, instances[1]!.address], '1.0': [instances[2]!.address] },
      { '0.9': 80, '1.0': 20 },
      { statePath: `${stateDir()}/state.json` },
    ),
  )
  const identities = join(stateDir(), 'identities.json')
  const check = async () => {
    const result = await runCli(['canary-check', proxy.url, '400', '--requests', '3', '--identities', identities, '--json'])
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout) as CanaryJson
  }

  const at20 = await check()
  expect(at20).toMatchObject({ clients: 400, stickyViolations: 0, errors: 0 })
  expect(at20.versions['1.0']).toBeGreaterThan(0)

  const change = await runCli(['weights', 'svc', '0.9=50', '1.0=50', '--admin', proxy.adminUrl, '--reason', 'canary to 50 %'])
  expect(change.stderr).toBe('')
  expect(change.code).toBe(0)
  expect(change.stdout).toBe('svc: weights 0.9=50 1.0=50 (revision 1)\n')

  const at50 = await check()
  expect(at50).toMatchObject({ clients: 400, stickyViolations: 0, errors: 0 })
  // The property itself: raising 1.0's weight only moves clients into 1.0.
  expect(at50.moved).toBeDefined()
  expect(at50.moved!['1.0->0.9'] ?? 0).toBe(0)
  // And some did move in (expected 400 × 0.3 = 120; none moving would mean the change was ignored).
  expect(at50.moved?.['0.9->1.0']).toBeGreaterThan(0)
  expect(at50.versions['1.0']).toBe(at20.versions['1.0']! + at50.moved!['0.9->1.0']!)
})
