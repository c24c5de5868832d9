/**
 * Reload without restart, against real processes: under 300 req/s a reload that adds an instance,
 * removes another and changes a timeout fails no request and the new instance serves within 1 s
 * (single process through `POST /v1/reload`, `--workers 2` through SIGHUP); an invalid config
 * changes nothing and names its field; certificates are re-read; the saved weights keep winning.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { makePki, type TestPki } from '../helpers/certs.js'
import { protocolClient } from '../helpers/clients.js'
import { constantLoad, failuresOf } from '../helpers/constant-load.js'
import { outputMatch, startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, writeConfig } from '../helpers/proxy.js'
import { admin, controlConfig, startControlledProxy, stateDir } from './control-helpers.js'

/** Polls `condition` every 10 ms; fails after `limitMs`. */
async function until(condition: () => boolean, limitMs = 10_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > limitMs) throw new Error(`condition not met within ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function hitsOf(backend: TestBackend): number {
  let total = 0
  for (const count of backend.hits.values()) total += count
  return total
}

/** One service on port 0, group `a` over `instances`; requests take 50 ms at the backend, so some are always running. */
function reloadConfig(instances: readonly string[], headersMs: number, extra: Record<string, unknown> = {}) {
  return controlConfig({ a: [...instances] }, { a: 1 }, { service: { timeouts: { headersMs } }, extra })
}

describe('reload under load', () => {
  const backends: TestBackend[] = []
  afterEach(async () => {
    await stopAll()
    for (const backend of backends.splice(0)) await backend.close()
  })
  afterAll(() => removeTempFiles())

  it.each([
    ['a single process, POST /v1/reload', false],
    ['serve --workers 2, SIGHUP', true],
  ])('%s: adds an instance, removes one, changes a timeout; 0 failed requests, the new instance serves within 1 s', async (_name, workers) => {
    const [one, two, three] = await Promise.all([startBackend('one'), startBackend('two'), startBackend('three')])
    backends.push(one!, two!, three!)
    const path = writeConfig(reloadConfig([one!.address, two!.address], 5_000))
    let proxy: Started
    let url: string
    let adminUrl: string
    if (workers) {
      proxy = await startCli(['serve', '--config', path, '--workers', '2'], { waitFor: /"event":"workers_ready"/ })
      url = `http://127.0.0.1:${/"event":"listening"[^\n]*"port":(\d+)/.exec(proxy.output())![1]}`
      // The admin listener opens after the workers are ready: its line may come a moment later.
      adminUrl = `http://127.0.0.1:${(await outputMatch(proxy, /"event":"admin_listening"[^\n]*"port":(\d+)/))[1]}`
    } else {
      const started = await startControlledProxy(undefined, undefined, path)
      proxy = started
      url = started.url
      adminUrl = started.adminUrl
    }
    const load = constantLoad({ url: `${url}/slow/50`, rps: 300, durationMs: 4_000 })
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    writeFileSync(path, JSON.stringify(reloadConfig([two!.address, three!.address], 3_000)))
    // Counted from the moment the reload is in force: reading and checking the file (off-thread)
    // takes 0.2-0.5 s before that, more while the rest of the suite loads the machine.
    let reloadedAt: number
    if (workers) {
      const reloaded = proxy.waitForLine(/"event":"config_reloaded"/)
      proxy.child.kill('SIGHUP')
      await reloaded
      reloadedAt = Date.now()
    } else {
      const answer = await admin(adminUrl, 'POST', '/v1/reload', {})
      reloadedAt = Date.now()
      expect(answer.status).toBe(200)
      expect(answer.json.services).toEqual({ added: [], removed: [], changed: ['svc'], unchanged: [] })
    }
    const oneAtReload = hitsOf(one!)
    await until(() => hitsOf(three!) > 0, 2_000)
    expect(Date.now() - reloadedAt).toBeLessThanOrEqual(1_000)
    const records = await load
    expect(failuresOf(records)).toEqual([])
    // 1200 planned: a loaded machine sends fewer (864 once); what counts is that they flowed throughout.
    expect(records.length).toBeGreaterThan(600)
    // The removed instance finished what it had and got nothing new; nobody was cut.
    expect(one!.abandoned).toEqual([])
    expect(hitsOf(one!) - oneAtReload).toBeLessThanOrEqual(workers ? 60 : 30)
    expect(hitsOf(three!)).toBeGreaterThan(100)
    const status = await admin(adminUrl, 'GET', '/v1/services/svc')
    expect(status.json.groups[0].instances.map((instance: { instance: string }) => instance.instance).sort()).toEqual([two!.address, three!.address].sort())
  }, 30_000)
})

describe('a reload that cannot apply', () => {
  let a: TestBackend
  let b: TestBackend
  beforeAll(async () => {
    a = await startBackend('a')
    b = await startBackend('b')
  })
  afterAll(async () => {
    await stopAll()
    await a.close()
    await b.close()
    removeTempFiles()
  })

  /** A service view without the traffic it observed (which the requests below change). */
  const configured = ({ json }: { json: Record<string, any> }) => ({
    ...json,
    observedShare: undefined,
    groups: json.groups.map((group: Record<string, unknown>) => ({ ...group, observed: undefined })),
  })

  it('changes nothing, logs the error and answers 400 naming the field', async () => {
    const good = reloadConfig([a.address], 5_000)
    const proxy = await startControlledProxy(good)
    const before = configured(await admin(proxy.adminUrl, 'GET', '/v1/services/svc'))
    const bad = reloadConfig([b.address], -1)
    writeFileSync(proxy.configPath, JSON.stringify(bad))
    const answer = await admin(proxy.adminUrl, 'POST', '/v1/reload', {})
    expect(answer.status).toBe(400)
    expect(answer.json.error).toMatchObject({ code: 'invalid_config', field: 'services[0].timeouts.headersMs' })
    expect(answer.json.error.message).toContain(`${proxy.configPath}: services[0].timeouts.headersMs: must be >= 1`)
    await until(() => /"event":"reload_failed"[^\n]*"field":"services\[0\]\.timeouts\.headersMs"/.test(proxy.output()))
    // SIGHUP with the same file: logged, nothing else.
    const failed = proxy.waitForLine(/"event":"reload_failed"/)
    proxy.child.kill('SIGHUP')
    await failed
    expect(configured(await admin(proxy.adminUrl, 'GET', '/v1/services/svc'))).toEqual(before)
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${proxy.url}/`)
      expect(await response.text()).toBe('a')
    }
    expect(hitsOf(b)).toBe(0)

    const refusals: [unknown, string, string][] = [
      [{ ...good, admin: { host: '127.0.0.1', port: 1 } }, 'admin.port', 'cannot change while the proxy runs'],
      [{ ...good, services: [{ ...(good.services as object[])[0], listen: { host: '127.0.0.1', port: 0, tls: { cert: '/nonexistent.pem', key: '/nonexistent.pem' } } }] }, 'services[0].listen.tls.cert', 'no such file'],
      [{ ...good, services: [{ ...(good.services as object[])[0], bogus: 1 }] }, 'services[0].bogus', 'unknown key'],
    ]
    for (const [config, field, problem] of refusals) {
      writeFileSync(proxy.configPath, JSON.stringify(config))
      const refused = await admin(proxy.adminUrl, 'POST', '/v1/reload', {})
      expect(refused.status).toBe(400)
      expect(refused.json.error.field).toBe(field)
      expect(refused.json.error.message).toContain(problem)
    }
    expect(configured(await admin(proxy.adminUrl, 'GET', '/v1/services/svc'))).toEqual(before)
  })

  it('keeps the saved weights over the file\'s (and says so), and refuses to drop a group that still has traffic', async () => {
    const statePath = join(stateDir(), 'state.json')
    const config = controlConfig({ a: [a.address], b: [b.address] }, { a: 1, b: 1 }, { statePath })
    const proxy = await startControlledProxy(config)
    expect((await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { a: 90, b: 10 } })).status).toBe(200)
    writeFileSync(proxy.configPath, JSON.stringify({ ...config, services: [{ ...(config.services as object[])[0], weights: { a: 1, b: 3 } }] }))
    const reloaded = await admin(proxy.adminUrl, 'POST', '/v1/reload', {})
    expect(reloaded.status).toBe(200)
    expect(reloaded.json.weightsFromState).toEqual([{ service: 'svc', weights: { a: 90, b: 10 }, file: { a: 1, b: 3 } }])
    await until(() => /"event":"weights_from_state"[^\n]*"service":"svc"/.test(proxy.output()))
    const view = (await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json
    expect(view.weights).toEqual({ a: 90, b: 10 })
    expect(view.configWeights).toEqual({ a: 1, b: 3 })

    writeFileSync(proxy.configPath, JSON.stringify(controlConfig({ a: [a.address] }, { a: 1 }, { statePath })))
    const refused = await admin(proxy.adminUrl, 'POST', '/v1/reload', {})
    expect(refused.status).toBe(400)
    expect(refused.json.error.field).toBe('services[0].groups')
    expect(refused.json.error.message).toContain('group "b" is gone from the file but still has weight 10')
    expect((await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json.weights).toEqual({ a: 90, b: 10 })

    // A group the file adds appears in the series (and the split) at once; those that stay keep theirs.
    writeFileSync(proxy.configPath, JSON.stringify(controlConfig({ a: [a.address], b: [b.address], c: [a.address] }, { a: 1, b: 1 }, { statePath })))
    expect((await admin(proxy.adminUrl, 'POST', '/v1/reload', {})).status).toBe(200)
    const series = await admin(proxy.adminUrl, 'GET', '/v1/services/svc/series')
    expect(series.status).toBe(200)
    expect(series.json.groups.map((group: { name: string }) => group.name)).toEqual(['a', 'b', 'c'])
    for (let tries = 0; ; tries++) {
      const groups = (await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json.groups as { name: string; observed: unknown }[]
      if (groups.every((group) => group.observed !== null)) break
      expect(tries, `groups without observed shares: ${groups.filter((g) => g.observed === null).map((g) => g.name).join(', ')}`).toBeLessThan(50)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
})

describe('certificates on reload', () => {
  let pki: TestPki
  let backend: TestBackend
  afterAll(async () => {
    await stopAll()
    await backend.close()
    pki.remove()
    removeTempFiles()
  })

  /** The subject CN of the certificate the listener shows for `servername` (none: no SNI). */
  function certificateFor(port: number, servername?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, servername, ALPNProtocols: ['http/1.1'] }, () => {
        resolve(String(socket.getPeerCertificate().subject?.CN))
        socket.destroy()
      })
      socket.once('error', reject)
    })
  }

  it('chooses the certificate by SNI per vhost and re-reads the files on reload; open connections keep serving', async () => {
    pki = makePki()
    backend = await startBackend('web')
    const shop = pki.leaf('shop', ['shop.test'])
    const main = pki.leaf('main', ['main.test'])
    const service = (name: string, vhosts: unknown[], leaf: { cert: string; key: string }) => ({
      name,
      listen: { host: '127.0.0.1', port: 0, tls: leaf },
      vhosts,
      groups: [{ name: 'g', instances: [backend.address] }],
    })
    // Port 0 is not shared: the two services get a listener each, the first with a vhost of its own certificate.
    const config = { admin: { host: '127.0.0.1', port: 0 }, services: [service('svc', ['main.test', { name: 'shop.test', tls: shop }], main)] }
    const proxy = await startControlledProxy(config)
    const port = Number(new URL(proxy.url).port)
    expect(await certificateFor(port, 'shop.test')).toBe('shop.test')
    expect(await certificateFor(port, 'main.test')).toBe('main.test')
    expect(await certificateFor(port)).toBe('main.test')

    const h2 = protocolClient('h2', port, pki.ca, 'main.test')
    try {
      expect((await h2.request('/', { headers: { ':authority': 'main.test' } })).status).toBe(200)
      // Renewed in place: new files under the same names.
      const renewed = pki.leaf('shop', ['shop.test', 'www.shop.test'])
      writeFileSync(proxy.configPath, JSON.stringify(config))
      const answer = await admin(proxy.adminUrl, 'POST', '/v1/reload', {})
      expect(answer.status).toBe(200)
      expect(answer.json.certificates.map((certificate: { file: string }) => certificate.file)).toEqual([main.cert, renewed.cert])
      const names = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, servername: 'shop.test' }, () => {
          resolve(String(socket.getPeerCertificate().subjectaltname))
          socket.destroy()
        })
        socket.once('error', reject)
      })
      expect(names).toContain('www.shop.test')
      // The HTTP/2 connection opened before the reload still serves.
      expect((await h2.request('/', { headers: { ':authority': 'main.test' } })).status).toBe(200)
    } finally {
      h2.close()
    }
  })
})
