import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, writeConfig } from '../helpers/proxy.js'
import { admin, controlConfig, newClientGet, startControlledProxy, startSimpleService, stateDir, type Service } from './control-helpers.js'

// Loading zod makes every later request in that isolate ~4 % dearer (bench/README.md), so `serve`
// validates its config and saved state in a worker thread. This checks the serving isolate stays clean.
const PROBE = new URL('../fixtures/zod-probe.mjs', import.meta.url).href
const VALIDATE = pathToFileURL(join(import.meta.dirname, '../../dist/src/config/validate.js')).href

function readProbe(file: string): { zodLoaded: boolean } {
  return JSON.parse(readFileSync(file, 'utf8')) as { zodLoaded: boolean }
}

describe('the serving isolate', () => {
  let blue: Service
  let green: Service

  beforeAll(async () => {
    ;[blue, green] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  })

  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  it('never loads zod, while the config and a saved state are still checked', async () => {
    const dir = stateDir()
    const statePath = join(dir, 'state.json')
    writeFileSync(statePath, JSON.stringify({ format: 'zdd-state/1', revision: 4, services: { svc: { weights: { blue: 0, green: 1 } } }, history: [] }))
    const probe = join(dir, 'probe.json')
    const proxy = await startControlledProxy(
      controlConfig({ blue: [blue.address], green: [green.address] }, { blue: 1, green: 0 }, { statePath }),
      { NODE_OPTIONS: `--import=${PROBE}`, ZDD_ZOD_PROBE: probe },
    )
    // The saved state was read and checked: it overrides the config's weights.
    const status = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
    expect(status.json).toMatchObject({ revision: 4, weights: { blue: 0, green: 1 } })
    expect(await newClientGet(`${proxy.url}/endpoint0`)).toEqual({ status: 200, group: 'green' })
    expect(await proxy.stop()).toBe(0)
    expect(readProbe(probe)).toEqual({ zodLoaded: false })
  })

  it('probe check: the same probe sees zod where it is loaded', async () => {
    const probe = join(stateDir(), 'probe.json')
    await promisify(execFile)(process.execPath, ['--import', PROBE, '--input-type=module', '-e', `await import(${JSON.stringify(VALIDATE)})`], {
      env: { ...process.env, ZDD_ZOD_PROBE: probe },
    })
    expect(readProbe(probe)).toEqual({ zodLoaded: true })
  })
})
