import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/validation/config.js'

const staticGroup = { name: 'a', instances: ['127.0.0.1:9001'] }

describe('parseConfig: defaults', () => {
  it('reads `backends`, the older name of a group\'s `instances`, as `instances`', () => {
    const config = parseConfig({ services: [{ name: 's', groups: [{ name: 'a', backends: ['127.0.0.1:9001'] }] }] }, {}, 'c.json')
    expect(config.services[0]!.groups).toEqual([staticGroup])
  })

  it('fills every default of a minimal config', () => {
    const config = parseConfig({ services: [{ name: 's', groups: [staticGroup] }] }, {}, 'c.json')
    expect(config).toEqual({
      dns: { servers: [], timeoutMs: 1000, refreshMinSeconds: 1, refreshMaxSeconds: 30 },
      trustedProxies: [],
      services: [
        {
          name: 's',
          listen: { host: '0.0.0.0', port: 8080, maxConnections: 10_000, http2: true, h2c: false },
          vhosts: [],
          vhostCertificates: [],
          groups: [staticGroup],
          weights: { a: 1 },
          sticky: { by: 'cookie', cookie: 'zdd_client', header: 'x-client-id' },
          // Off unless configured.
          override: { header: '', cookie: '', allow: 'weighted' },
          healthChecks: [],
          readinessChecks: [],
          retries: 1,
          retryMethods: ['GET', 'HEAD', 'OPTIONS'],
          retryBudgetPercent: 20,
          outlierDetection: { consecutiveFailures: 1, consecutive5xx: 5, baseEjectionSeconds: 30, maxEjectionSeconds: 300, maxEjectionPercent: 50, unejectOnPassingCheck: true },
          redispatch: true,
          limits: { connectionsPerInstance: 256, queuePerInstance: 256, requestBufferBytes: 65536 },
          slowStartSeconds: 0,
          observedShare: { windowSeconds: 60, maxDrift: 0.05, minClients: 100 },
          timeouts: { connectMs: 2000, headersMs: 30000, idleMs: 60000, queueMs: 5000, sendMs: 60000 },
          exposeGroupHeader: false,
          drainSeconds: 30,
        },
      ],
    })
    expect(config.admin).toBeUndefined()
    expect(config.state).toBeUndefined()
    expect(Object.isFrozen(config.services[0]!.weights)).toBe(true)
  })

  const cases: { desc: string; input: Record<string, unknown>; expected: (c: ReturnType<typeof parseConfig>) => unknown; value: unknown }[] = [
    { desc: 'admin block gets host, port and a cap on event streams', input: { admin: {} }, expected: (c) => c.admin, value: { host: '127.0.0.1', port: 9090, maxEventStreams: 64 } },
    { desc: 'state block gets store and path', input: { state: {} }, expected: (c) => c.state, value: { store: 'file', path: 'var/state.json' } },
    {
      desc: 'etcd state gets prefix, cache, lease and timeout',
      input: { state: { store: 'etcd', endpoints: ['http://127.0.0.1:2379'] } },
      expected: (c) => c.state,
      value: { store: 'etcd', endpoints: ['http://127.0.0.1:2379'], prefix: '/zdd/', cachePath: 'var/state-cache.json', leaseSeconds: 10, timeoutMs: 2000 },
    },
    {
      desc: 'partial dns merges with defaults; servers get port 53',
      input: { dns: { servers: ['10.0.0.1', '::1', '[fe80::1]:5353', '127.0.0.1:8600'] } },
      expected: (c) => c.dns,
      value: { servers: ['10.0.0.1:53', '[::1]:53', '[fe80::1]:5353', '127.0.0.1:8600'], timeoutMs: 1000, refreshMinSeconds: 1, refreshMaxSeconds: 30 },
    },
    {
      desc: 'partial sticky merges with defaults; header lower-cased',
      input: { services: [{ name: 's', groups: [staticGroup], sticky: { by: 'header', header: 'X-User' } }] },
      expected: (c) => c.services[0]!.sticky,
      value: { by: 'header', cookie: 'zdd_client', header: 'x-user' },
    },
    {
      desc: 'an override by header only, reaching weighted groups',
      input: { services: [{ name: 's', groups: [staticGroup], override: { header: 'X-Zdd-Group' } }] },
      expected: (c) => c.services[0]!.override,
      value: { header: 'x-zdd-group', cookie: '', allow: 'weighted' },
    },
    {
      desc: 'an override that reaches any group, with its secret',
      input: { services: [{ name: 's', groups: [staticGroup], override: { cookie: 'zdd_group', allow: 'any', secret: 'sixteen-chars-ok' } }] },
      expected: (c) => c.services[0]!.override,
      value: { header: '', cookie: 'zdd_group', allow: 'any', secret: 'sixteen-chars-ok' },
    },
    {
      desc: 'equal default weights over all groups',
      input: { services: [{ name: 's', groups: [staticGroup, { name: 'b', srv: '_b._tcp.marathon.mesos' }] }] },
      expected: (c) => c.services[0]!.weights,
      value: { a: 1, b: 1 },
    },
    {
      desc: 'groups left out of weights get 0',
      input: { services: [{ name: 's', groups: [staticGroup, { name: '1.0', instances: ['[::1]:9000'] }], weights: { '1.0': 5 } }] },
      expected: (c) => c.services[0]!.weights,
      value: { a: 0, '1.0': 5 },
    },
    {
      desc: 'vhosts are lower-cased; shared listener with disjoint vhosts is fine',
      input: {
        services: [
          { name: 's', groups: [staticGroup], vhosts: ['A.example'] },
          { name: 't', groups: [staticGroup], vhosts: ['b.example'] },
        ],
      },
      expected: (c) => c.services.map((s) => s.vhosts),
      value: [['a.example'], ['b.example']],
    },
    {
      desc: 'services on port 0 never share a listener',
      input: { services: [{ name: 's', groups: [staticGroup], listen: { port: 0 } }, { name: 't', groups: [staticGroup], listen: { port: 0 } }] },
      expected: (c) => c.services.length,
      value: 2,
    },
    {
      desc: 'numeric strings coerce in numeric and boolean fields',
      input: { services: [{ name: 's', groups: [staticGroup], retries: '3', drainSeconds: '2.5', exposeGroupHeader: 'true', weights: { a: '2' } }] },
      expected: (c) => [c.services[0]!.retries, c.services[0]!.drainSeconds, c.services[0]!.exposeGroupHeader, c.services[0]!.weights],
      value: [3, 2.5, true, { a: 2 }],
    },
    {
      desc: 'trusted proxies accept addresses and CIDRs',
      input: { trustedProxies: ['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '::1'] },
      expected: (c) => c.trustedProxies,
      value: ['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '::1'],
    },
    {
      desc: 'TLS listener: minVersion defaults to TLSv1.2, HTTP/2 on; vhosts may bring their own certificate',
      input: {
        services: [
          {
            name: 's',
            groups: [staticGroup],
            listen: { port: 0, tls: { cert: 'c.pem', key: 'k.pem' } },
            vhosts: ['A.example', { name: 'B.example', tls: { cert: 'b.pem', key: 'bk.pem' } }],
          },
        ],
      },
      expected: (c) => [c.services[0]!.listen, c.services[0]!.vhosts, c.services[0]!.vhostCertificates],
      value: [
        { host: '0.0.0.0', port: 0, maxConnections: 10_000, tls: { cert: 'c.pem', key: 'k.pem', minVersion: 'TLSv1.2' }, http2: true, h2c: false },
        ['a.example', 'b.example'],
        [{ host: 'b.example', cert: 'b.pem', key: 'bk.pem' }],
      ],
    },
    {
      desc: 'h2c on a plain listener',
      input: { services: [{ name: 's', groups: [staticGroup], listen: { h2c: 'true' } }] },
      expected: (c) => c.services[0]!.listen.h2c,
      value: true,
    },
    {
      desc: 'admin on a non-loopback host with a token',
      input: { admin: { host: '0.0.0.0', token: 'secret' } },
      expected: (c) => c.admin,
      value: { host: '0.0.0.0', port: 9090, token: 'secret', maxEventStreams: 64 },
    },
  ]
  for (const { desc, input, expected, value } of cases) {
    it(desc, () => {
      const config = parseConfig({ services: [{ name: 's', groups: [staticGroup] }], ...input }, {}, 'c.json')
      expect(expected(config)).toEqual(value)
    })
  }

  it('parses a full example with every block', () => {
    const config = parseConfig(
      {
        admin: { host: '127.0.0.1', port: 9090, token: '${ZDD_ADMIN_TOKEN}' },
        state: { store: 'file', path: 'var/state.json' },
        dns: { servers: ['127.0.0.1:8600'], timeoutMs: 1000, refreshMinSeconds: 1, refreshMaxSeconds: 30 },
        services: [
          {
            name: 'simpleservice',
            listen: { host: '0.0.0.0', port: 8080 },
            vhosts: [],
            groups: [
              { name: '0.9', srv: '_simpleservice-09._tcp.marathon.mesos' },
              { name: '1.0', instances: ['127.0.0.1:9001', '127.0.0.1:9002'] },
            ],
            weights: { '0.9': 80, '1.0': 20 },
            sticky: { by: 'cookie', cookie: 'zdd_client', header: 'x-client-id' },
            override: { header: 'x-zdd-group', cookie: 'zdd_group' },
            healthChecks: [
              { protocol: 'HTTP', path: '/health', gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, ignoreHttp1xx: false },
            ],
            readinessChecks: [{ protocol: 'HTTP', path: '/health', intervalSeconds: 30, timeoutSeconds: 10, httpStatusCodesForReady: [200] }],
            retries: 2,
            timeouts: { connectMs: 2000, headersMs: 30000, idleMs: 60000 },
            exposeGroupHeader: true,
          },
        ],
      },
      { ZDD_ADMIN_TOKEN: 't0ken' },
      'c.json',
    )
    expect(config.admin?.token).toBe('t0ken')
    expect(config.services[0]!.weights).toEqual({ '0.9': 80, '1.0': 20 })
    expect(config.services[0]!.healthChecks[0]).toMatchObject({ portIndex: 0, delaySeconds: 15 })
    expect(config.services[0]!.readinessChecks[0]).toMatchObject({ name: 'readinessCheck', portName: 'http-api', preserveLastResponse: false })
  })
})
