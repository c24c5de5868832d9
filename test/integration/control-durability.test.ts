import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles, writeConfig } from '../helpers/proxy.js'
import { admin, agent, controlConfig, newClientGet, startControlledProxy, startSimpleService, stateDir, type Service } from './control-helpers.js'
import { builtFile } from '../helpers/built.js'

// Loading zod makes every later request in that isolate ~3-4 % dearer (bench/README.md), so `serve`
// checks its config and saved state in a worker thread; the probe reports what its isolate loaded.
const ZOD_PROBE = new URL('../fixtures/zod-probe.mjs', import.meta.url).href
const VALIDATE_MODULE = pathToFileURL(builtFile('validation/config.ts')).href

function readProbe(file: string): { zodLoaded: boolean } {
  return JSON.parse(readFileSync(file, 'utf8')) as { zodLoaded: boolean }
}

describe('persisted desired state', () => {
  let blue: Service
  let green: Service

  beforeAll(async () => {
    ;[blue, green] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    removeTempFiles()
  })

  const configFor = (statePath: string) => controlConfig({ blue: [blue.address], green: [green.address] }, { blue: 90, green: 10 }, { statePath })

  it('keeps an acknowledged change across kill -9 and restart', async () => {
    const statePath = `${stateDir()}/nested/state.json`
    const configPath = writeConfig(configFor(statePath))
    let proxy = await startControlledProxy(undefined, undefined, configPath)
    for (const [step, weights] of [[1, { blue: 70, green: 30 }], [2, { blue: 40, green: 60 }]] as const) {
      const answer = await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights, reason: `step ${step}` })
      expect(answer.status).toBe(200)
      // No grace: the process dies the moment the acknowledgement arrives.
      proxy.child.kill('SIGKILL')
      await proxy.exited
      proxy = await startControlledProxy(undefined, undefined, configPath)
      const status = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
      expect(status.json.revision).toBe(step)
      expect(status.json.weights).toEqual(weights)
      expect(status.json.history.at(-1)).toMatchObject({ revision: step, after: weights, reason: `step ${step}` })
    }
    // A rollback after the restart still knows the history.
    const back = await admin(proxy.adminUrl, 'POST', '/v1/services/svc/rollback', {})
    expect(back.json.change).toMatchObject({ kind: 'rollback', undid: 2, after: { blue: 70, green: 30 } })
    // Atomic writes leave no temp file behind.
    expect(readdirSync(dirname(statePath))).toEqual(['state.json'])
    await proxy.stop()
  })

  it('refuses to start on a truncated state file, naming it, and leaves the file as it was', async () => {
    const statePath = `${stateDir()}/state.json`
    const configPath = writeConfig(configFor(statePath))
    const proxy = await startControlledProxy(undefined, undefined, configPath)
    expect((await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { blue: 1, green: 1 } })).status).toBe(200)
    await proxy.stop()
    const whole = readFileSync(statePath)
    const truncated = whole.subarray(0, Math.floor(whole.length / 2))
    writeFileSync(statePath, truncated)

    const result = await runCli(['serve', '--config', configPath], { timeoutMs: 20_000 })
    expect(result.code).toBe(1)
    const lines = result.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(statePath)
    expect(lines[0]).toMatch(/invalid JSON/)
    expect(result.stdout).not.toMatch(/"event":"listening"/)
    expect(readFileSync(statePath).equals(truncated)).toBe(true)
  })

  const refusedStates: { desc: string; content: string; message: RegExp }[] = [
    { desc: 'a group the config no longer has', content: JSON.stringify({ format: 'zdd-state/1', revision: 3, services: { svc: { weights: { blue: 1, red: 1 } } }, history: [] }), message: /services\.svc\.weights\.red: unknown group/ },
    { desc: 'a service the config no longer has', content: JSON.stringify({ format: 'zdd-state/1', revision: 3, services: { other: { weights: { a: 1 } } }, history: [] }), message: /service "other" is not in the config/ },
    { desc: 'another format', content: JSON.stringify({ format: 'zdd-state/9', revision: 3, services: {}, history: [] }), message: /format/ },
    { desc: 'an empty file', content: '', message: /invalid JSON/ },
  ]
  for (const { desc, content, message } of refusedStates) {
    it(`refuses to start on a state file with ${desc}`, async () => {
      const statePath = `${stateDir()}/state.json`
      writeFileSync(statePath, content)
      const result = await runCli(['serve', '--config', writeConfig(configFor(statePath))], { timeoutMs: 20_000 })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(message)
      expect(result.stderr).toContain(statePath)
      expect(readFileSync(statePath, 'utf8')).toBe(content)
    })
  }
  it('reads and checks a saved state without ever loading zod where requests are served', async () => {
    const dir = stateDir()
    const statePath = join(dir, 'state.json')
    writeFileSync(statePath, JSON.stringify({ format: 'zdd-state/1', revision: 4, services: { svc: { weights: { blue: 0, green: 1 } } }, history: [] }))
    const probe = join(dir, 'probe.json')
    const proxy = await startControlledProxy(configFor(statePath), { NODE_OPTIONS: `--import=${ZOD_PROBE}`, ZDD_ZOD_PROBE: probe })
    // The saved state was read and checked: it overrides the config's weights.
    const status = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
    expect(status.json).toMatchObject({ revision: 4, weights: { blue: 0, green: 1 } })
    expect(await newClientGet(`${proxy.url}/endpoint0`)).toEqual({ status: 200, group: 'green' })
    expect(await proxy.stop()).toBe(0)
    expect(readProbe(probe)).toEqual({ zodLoaded: false })
  })

  it('(probe check) the same probe sees zod where it is loaded', async () => {
    const probe = join(stateDir(), 'probe.json')
    await promisify(execFile)(process.execPath, ['--import', ZOD_PROBE, '--input-type=module', '-e', `await import(${JSON.stringify(VALIDATE_MODULE)})`], {
      env: { ...process.env, ZDD_ZOD_PROBE: probe },
    })
    expect(readProbe(probe)).toEqual({ zodLoaded: true })
  })
})
