import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import {
  admin,
  agent,
  controlConfig,
  newClientGet,
  startControlledProxy,
  startSimpleService,
  stateDir,
  type ControlledProxy,
  type Service,
} from './control-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

const TOKEN = 's3cret-token'
const auth = { authorization: `Bearer ${TOKEN}` }

describe('admin API: inputs, auth and refusals', () => {
  let blue: Service
  let green: Service
  let proxy: ControlledProxy

  beforeAll(async () => {
    ;[blue, green] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
    const config = controlConfig(
      { blue: [blue.address], green: [green.address] },
      { blue: 80, green: 20 },
      {
        statePath: `${stateDir()}/state.json`,
        token: '${ZDD_ADMIN_TOKEN}',
        // A group whose SRV name never resolves (no DNS server there): it has no instance at all.
        extra: { dns: { servers: ['127.0.0.1:9'], timeoutMs: 200 } },
      },
    )
    const services = config.services as Record<string, unknown>[]
    ;(services[0]!.groups as unknown[]).push({ name: 'empty', srv: '_svc._tcp.nowhere.invalid' })
    proxy = await startControlledProxy(config, { ZDD_ADMIN_TOKEN: TOKEN })
  })

  afterAll(() => stopAll())

  const current = async () => {
    const answer = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
    return { revision: answer.json.revision as number, weights: answer.json.weights as Record<string, number> }
  }

  it('answers liveness, readiness, status and metrics without a token', async () => {
    expect((await admin(proxy.adminUrl, 'GET', '/healthz')).json).toEqual({ status: 'ok' })
    // Not ready while an SRV group has never resolved (its DNS server is down here).
    const readyz = await admin(proxy.adminUrl, 'GET', '/readyz')
    expect(readyz.status).toBe(503)
    expect(readyz.json).toEqual({ ready: false, reasons: ['service svc group empty: SRV _svc._tcp.nowhere.invalid not resolved yet'] })
    const all = await admin(proxy.adminUrl, 'GET', '/v1/services')
    expect(all.json.services.map((s: { name: string }) => s.name)).toEqual(['svc'])
    const one = await admin(proxy.adminUrl, 'GET', '/v1/services/svc')
    expect(one.headers.etag).toBe(`"${one.json.revision}"`)
    expect(one.json.groups.map((g: { name: string; weight: number }) => [g.name, g.weight])).toEqual([
      ['blue', 80],
      ['green', 20],
      ['empty', 0],
    ])
    expect(one.json.groups[0].instances).toEqual([{ instance: blue.address, state: 'healthy', live: true, inflight: 0, ejections: 0, draining: false }])
    const series = await admin(proxy.adminUrl, 'GET', '/v1/services/svc/series')
    expect(series.status).toBe(200)
    expect(series.json).toMatchObject({ service: 'svc', intervalSeconds: 2, windowSeconds: 600 })
    expect(series.json.groups.map((g: { name: string }) => g.name)).toEqual(['blue', 'green', 'empty'])
    expect((await newClientGet(`${proxy.url}/endpoint0`)).status).toBe(200)
    const metrics = await admin(proxy.adminUrl, 'GET', '/metrics')
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/)
    const text = metrics.json as string
    expect(text).toMatch(/^zdd_requests_total\{service="svc",group="(blue|green)",code="200"\} 1$/m)
    expect(text).toMatch(/^zdd_request_duration_seconds_count\{service="svc",group="(blue|green)"\} 1$/m)
    expect(text).toMatch(/^zdd_request_duration_seconds_bucket\{service="svc",group="blue",le="\+Inf"\} \d+$/m)
    expect(text).toMatch(/^zdd_upstream_errors_total\{service="svc",group="blue",kind="connect"\} 0$/m)
    expect(text).toMatch(/^zdd_retries_total\{service="svc",group="green"\} 0$/m)
    expect(text).toMatch(/^zdd_instances\{service="svc",group="blue",state="healthy"\} 1$/m)
    expect(text).toMatch(/^zdd_weight\{service="svc",group="blue"\} 80$/m)
    expect(text).toMatch(/^zdd_route_revision \d+$/m)
    expect(text).toMatch(/^process_cpu_seconds_total /m)
  })

  const put = (body: unknown, headers: Record<string, string> = auth, service = 'svc') =>
    admin(proxy.adminUrl, 'PUT', `/v1/services/${service}/weights`, body, headers)

  const refusals: { desc: string; send: () => ReturnType<typeof admin>; status: number; code: string; message?: RegExp }[] = [
    { desc: 'weights that sum to 0', send: () => put({ weights: { blue: 0, green: 0 } }), status: 400, code: 'invalid_weights', message: /^weights: at least one/ },
    { desc: 'a negative weight', send: () => put({ weights: { blue: -1, green: 5 } }), status: 400, code: 'invalid_weights', message: /^weights\.blue: must be >= 0/ },
    { desc: 'a string weight', send: () => put({ weights: { blue: '50', green: 50 } }), status: 400, code: 'invalid_weights', message: /^weights\.blue: must be a finite number/ },
    // JSON has no NaN: a client that serialises NaN sends null.
    { desc: 'NaN (sent as null)', send: () => put({ weights: { blue: Number.NaN, green: 1 } }), status: 400, code: 'invalid_weights', message: /^weights\.blue/ },
    { desc: 'NaN as a bare token', send: () => put('{"weights":{"blue":NaN}}'), status: 400, code: 'invalid_json' },
    { desc: 'an unknown group', send: () => put({ weights: { purple: 1 } }), status: 400, code: 'invalid_weights', message: /^weights\.purple: unknown group/ },
    { desc: 'weights missing', send: () => put({}), status: 400, code: 'invalid_weights' },
    { desc: 'an unknown field', send: () => put({ weights: { blue: 1 }, wieghts: 1 }), status: 400, code: 'invalid_body', message: /^wieghts: unknown field/ },
    { desc: 'an unknown service', send: () => put({ weights: { blue: 1 } }, auth, 'nope'), status: 404, code: 'unknown_service' },
    { desc: 'no token', send: () => put({ weights: { blue: 1 } }, {}), status: 401, code: 'unauthorized' },
    { desc: 'a wrong token', send: () => put({ weights: { blue: 1 } }, { authorization: 'Bearer s3cret-tokeN' }), status: 401, code: 'unauthorized' },
    { desc: 'a token prefix', send: () => put({ weights: { blue: 1 } }, { authorization: 'Bearer s3cret' }), status: 401, code: 'unauthorized' },
    { desc: 'Basic instead of Bearer', send: () => put({ weights: { blue: 1 } }, { authorization: `Basic ${TOKEN}` }), status: 401, code: 'unauthorized' },
    { desc: 'a wrong If-Match', send: () => put({ weights: { blue: 1 } }, { ...auth, 'if-match': '"999"' }), status: 412, code: 'revision_mismatch' },
    { desc: 'a malformed If-Match', send: () => put({ weights: { blue: 1 } }, { ...auth, 'if-match': 'abc' }), status: 400, code: 'invalid_if_match' },
    { desc: 'a non-JSON content type', send: () => put('blue=1', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'unsupported_media_type' },
    { desc: 'no content type', send: () => admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', undefined, auth), status: 415, code: 'unsupported_media_type' },
    { desc: 'invalid JSON', send: () => put('{"weights":'), status: 400, code: 'invalid_json' },
    { desc: 'a JSON array body', send: () => put('[1]'), status: 400, code: 'invalid_body' },
    { desc: 'a 1 MiB body', send: () => put(Buffer.alloc(1024 * 1024, 0x20)), status: 413, code: 'body_too_large' },
    { desc: 'a cross-site Origin', send: () => put({ weights: { blue: 1 } }, { ...auth, origin: 'http://evil.example' }), status: 403, code: 'forbidden_origin' },
    { desc: 'Origin null', send: () => put({ weights: { blue: 1 } }, { ...auth, origin: 'null' }), status: 403, code: 'forbidden_origin' },
    { desc: 'cut-over to a group with no ready instance', send: () => admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'empty' }, auth), status: 409, code: 'not_ready', message: /empty has no instances/ },
    { desc: 'cut-over to an unknown group', send: () => admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'purple' }, auth), status: 400, code: 'invalid_body', message: /^to: unknown group/ },
    { desc: 'cut-over asking more ready instances than exist', send: () => admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'green', minReady: 2 }, auth), status: 409, code: 'not_ready' },
    { desc: 'a negative drain', send: () => admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'green', drainSeconds: -1 }, auth), status: 400, code: 'invalid_body', message: /^drainSeconds/ },
    { desc: 'rollback with nothing to undo', send: () => admin(proxy.adminUrl, 'POST', '/v1/services/svc/rollback', {}, auth), status: 409, code: 'nothing_to_roll_back' },
    { desc: 'a wrong method', send: () => admin(proxy.adminUrl, 'DELETE', '/v1/services/svc/weights'), status: 405, code: 'method_not_allowed' },
    { desc: 'the series of an unknown service', send: () => admin(proxy.adminUrl, 'GET', '/v1/services/nope/series'), status: 404, code: 'unknown_service' },
    { desc: 'an unknown path', send: () => admin(proxy.adminUrl, 'GET', '/v2/apps'), status: 404, code: 'not_found' },
  ]

  for (const { desc, send, status, code, message } of refusals) {
    it(`refuses ${desc} with ${status} ${code}, changing nothing`, async () => {
      const before = await current()
      const answer = await send()
      expect(answer.status).toBe(status)
      expect(Object.keys(answer.json)).toEqual(['error'])
      expect(answer.json.error.code).toBe(code)
      expect(typeof answer.json.error.message).toBe('string')
      if (message) expect(answer.json.error.message).toMatch(message)
      expect(await current()).toEqual(before)
    })
  }

  it('answers 401 with WWW-Authenticate and 405 with Allow', async () => {
    expect((await put({ weights: { blue: 1 } }, {})).headers['www-authenticate']).toMatch(/^Bearer/)
    expect((await admin(proxy.adminUrl, 'POST', '/v1/services/svc/weights', { weights: { blue: 1 } }, auth)).headers.allow).toBe('PUT')
  })

  it('applies a change with the right token, same-origin Origin and If-Match, and bumps the revision', async () => {
    const before = await current()
    const answer = await put(
      { weights: { blue: 50, green: 50 }, reason: 'half and half' },
      { ...auth, 'if-match': `"${before.revision}"`, origin: proxy.adminUrl },
    )
    expect(answer.status).toBe(200)
    expect(answer.json.revision).toBe(before.revision + 1)
    expect(answer.headers.etag).toBe(`"${before.revision + 1}"`)
    expect(answer.json.change).toMatchObject({ kind: 'weights', before: { blue: 80, green: 20 }, after: { blue: 50, green: 50, empty: 0 }, reason: 'half and half' })
    expect(await current()).toEqual({ revision: before.revision + 1, weights: { blue: 50, green: 50, empty: 0 } })
    // The old revision no longer matches.
    expect((await put({ weights: { blue: 1 } }, { ...auth, 'if-match': String(before.revision) })).status).toBe(412)
  })

  it('is not ready while only a group without live instances has weight, and ready again after a rollback', async () => {
    expect((await put({ weights: { empty: 1 } })).status).toBe(200)
    const readyz = await admin(proxy.adminUrl, 'GET', '/readyz')
    expect(readyz.status).toBe(503)
    expect(readyz.json.reasons).toContain('service svc: no group with weight > 0 has a live instance')
    expect((await admin(proxy.adminUrl, 'POST', '/v1/services/svc/rollback', {}, auth)).status).toBe(200)
    expect((await admin(proxy.adminUrl, 'GET', '/readyz')).json.reasons).toHaveLength(1)
  })
})

describe('admin API without a state block', () => {
  afterAll(() => stopAll())

  it('shows the config weights and refuses every mutation with 409 read_only', async () => {
    const service = await startSimpleService('0.9')
    const proxy = await startControlledProxy(controlConfig({ a: [service.address], b: [service.address] }, { a: 1, b: 3 }))
    expect((await admin(proxy.adminUrl, 'GET', '/readyz')).json).toEqual({ ready: true })
    expect((await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json.weights).toEqual({ a: 1, b: 3 })
    for (const [method, path, body] of [
      ['PUT', '/v1/services/svc/weights', { weights: { a: 1 } }],
      ['POST', '/v1/services/svc/cutover', { to: 'a' }],
    ] as const) {
      const answer = await admin(proxy.adminUrl, method, path, body)
      expect(answer.status).toBe(409)
      expect(answer.json.error.code).toBe('read_only')
      expect(answer.json.error.message).toMatch(/"state"/)
    }
    // Without a token, a mutation under a non-loopback Host name is refused (DNS rebinding).
    const rebinding = await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { a: 1 } }, { host: 'evil.example:9090' })
    expect(rebinding.json.error.code).toBe('forbidden_host')
    expect((await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json.revision).toBe(0)
  })
})
