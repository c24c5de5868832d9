import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../../src/validation/config.js'

const group = { name: 'a', instances: ['127.0.0.1:9001'] }
/** A valid config whose first service is patched. */
const service = (patch: Record<string, unknown>) => ({ services: [{ name: 's', groups: [group], ...patch }] })
const withRoot = (patch: Record<string, unknown>) => ({ ...service({}), ...patch })

interface Case {
  desc: string
  input: unknown
  /** `<field path>: <problem>` as it follows the file name. */
  expected: string
  env?: NodeJS.ProcessEnv
}

const cases: Case[] = [
  { desc: 'not an object', input: [], expected: 'must be an object, got an array' },
  { desc: 'services missing', input: {}, expected: 'services: is required' },
  { desc: 'services empty', input: { services: [] }, expected: 'services: must not be empty' },
  { desc: 'unknown top-level key suggests the near one', input: { servics: [] }, expected: 'servics: unknown key (did you mean services?)' },
  { desc: 'unknown key beats other problems', input: { services: [{ name: 's', grups: [] }] }, expected: 'services[0].grups: unknown key (did you mean groups?)' },
  { desc: 'unknown key lists the allowed ones', input: service({ sticky: { zzz: 1 } }), expected: 'services[0].sticky.zzz: unknown key (allowed: by, cookie, header)' },
  { desc: 'negative weight', input: service({ groups: [group, { name: '1.0', instances: ['127.0.0.1:9002'] }], weights: { a: 1, '1.0': -1 } }), expected: 'services[0].weights.1.0: must be >= 0' },
  { desc: 'unknown group in weights', input: service({ weights: { b: 1 } }), expected: 'services[0].weights.b: unknown group (groups: a)' },
  { desc: 'weights all zero', input: service({ weights: { a: 0 } }), expected: 'services[0].weights: at least one weight must be > 0' },
  { desc: 'weight not a number', input: service({ weights: { a: 'lots' } }), expected: 'services[0].weights.a: must be a finite number' },
  { desc: 'weights not an object', input: service({ weights: [1] }), expected: 'services[0].weights: must be an object of group name to weight' },
  { desc: 'service name empty', input: service({ name: '' }), expected: 'services[0].name: must not be empty' },
  { desc: 'service name charset', input: service({ name: 'a b' }), expected: 'services[0].name: may contain only letters, digits, ".", "_" and "-"' },
  { desc: 'duplicate service names', input: { services: [{ name: 's', groups: [group], listen: { port: 1 } }, { name: 's', groups: [group], listen: { port: 2 } }] }, expected: 'services[1].name: duplicate service name "s" (also services[0])' },
  { desc: 'no groups', input: service({ groups: [] }), expected: 'services[0].groups: must not be empty' },
  { desc: 'duplicate group names', input: service({ groups: [group, group] }), expected: 'services[0].groups[1].name: duplicate group name "a" (also groups[0])' },
  { desc: 'group named __proto__', input: service({ groups: [{ name: '__proto__', srv: 'x.y' }] }), expected: 'services[0].groups[0].name: "__proto__" is reserved' },
  { desc: 'weights key __proto__', input: JSON.parse('{"services": [{"name": "s", "groups": [{"name": "a", "srv": "x.y"}], "weights": {"__proto__": 1}}]}'), expected: 'services[0].weights.__proto__: unknown group (groups: a)' },
  { desc: 'group name charset', input: service({ groups: [{ name: 'a/b', srv: 'x.y' }] }), expected: 'services[0].groups[0].name: may contain only letters, digits, ".", "_" and "-"' },
  { desc: 'group with srv and instances', input: service({ groups: [{ ...group, srv: '_a._tcp.x' }] }), expected: 'services[0].groups[0]: set either srv or instances, not both' },
  { desc: 'group with neither', input: service({ groups: [{ name: 'a' }] }), expected: 'services[0].groups[0]: needs srv (a DNS SRV name) or instances (a host:port list)' },
  { desc: 'empty srv', input: service({ groups: [{ name: 'a', srv: '' }] }), expected: 'services[0].groups[0].srv: must not be empty' },
  { desc: 'bad srv name', input: service({ groups: [{ name: 'a', srv: 'a..b' }] }), expected: 'services[0].groups[0].srv: must be a DNS name (labels of letters, digits, "_" and "-")' },
  { desc: 'empty instances', input: service({ groups: [{ name: 'a', instances: [] }] }), expected: 'services[0].groups[0].instances: must not be empty' },
  { desc: 'instance without port', input: service({ groups: [{ name: 'a', instances: ['127.0.0.1'] }] }), expected: 'services[0].groups[0].instances[0]: must be host:port (IPv6 as [addr]:port)' },
  { desc: 'instance port out of range', input: service({ groups: [{ name: 'a', instances: ['h:70000'] }] }), expected: 'services[0].groups[0].instances[0]: port 70000 is out of range 1..65535' },
  { desc: 'instance port 0', input: service({ groups: [{ name: 'a', instances: ['h:0'] }] }), expected: 'services[0].groups[0].instances[0]: port 0 is out of range 1..65535' },
  { desc: 'unbracketed IPv6 instance', input: service({ groups: [{ name: 'a', instances: ['::1:9000'] }] }), expected: 'services[0].groups[0].instances[0]: must be host:port (IPv6 as [addr]:port)' },
  { desc: 'bad IPv6 in brackets', input: service({ groups: [{ name: 'a', instances: ['[zz]:9000'] }] }), expected: 'services[0].groups[0].instances[0]: "zz" is not an IPv6 address' },
  { desc: 'duplicate instance', input: service({ groups: [{ name: 'a', instances: ['h:1', 'H:1'] }] }), expected: 'services[0].groups[0].instances[1]: duplicate of instances[0]' },
  { desc: 'override reaching any group without a secret', input: service({ override: { header: 'x-zdd-group', allow: 'any' } }), expected: 'services[0].override.secret: required when allow is "any": without it anyone could reach a group with weight 0' },
  { desc: 'override secret with nothing to guard', input: service({ override: { secret: 'sixteen-chars-ok' } }), expected: 'services[0].override.secret: set header or cookie too: the secret guards an override' },
  { desc: 'override secret too short', input: service({ override: { header: 'x-g', secret: 'short' } }), expected: 'services[0].override.secret: must be at least 16 characters' },
  { desc: 'override allow of another kind', input: service({ override: { header: 'x-g', allow: 'all' } }), expected: 'services[0].override.allow: must be one of "weighted", "any"' },
  // `backends`, the older name of `instances`, is still read; errors name the key as written.
  { desc: 'group with srv and backends', input: service({ groups: [{ name: 'a', backends: ['127.0.0.1:9001'], srv: '_a._tcp.x' }] }), expected: 'services[0].groups[0]: set either srv or backends, not both' },
  { desc: 'duplicate in backends', input: service({ groups: [{ name: 'a', backends: ['h:1', 'H:1'] }] }), expected: 'services[0].groups[0].backends[1]: duplicate of backends[0]' },
  { desc: 'bad address in backends', input: service({ groups: [{ name: 'a', backends: ['h:0'] }] }), expected: 'services[0].groups[0].backends[0]: port 0 is out of range 1..65535' },
  { desc: 'both instances and backends', input: service({ groups: [{ name: 'a', instances: ['h:1'], backends: ['h:2'] }] }), expected: 'services[0].groups[0]: backends is the older name of instances: set only one of them' },
  { desc: 'port out of range', input: service({ listen: { port: 65536 } }), expected: 'services[0].listen.port: must be <= 65535' },
  { desc: 'port not integer', input: service({ listen: { port: 80.5 } }), expected: 'services[0].listen.port: must be an integer' },
  { desc: 'port wrong type', input: service({ listen: { port: true } }), expected: 'services[0].listen.port: must be a number, got true' },
  { desc: 'non-numeric string port', input: service({ listen: { port: '80a' } }), expected: 'services[0].listen.port: must be a number, got a string' },
  { desc: 'listen host a name', input: service({ listen: { host: 'example.com' } }), expected: 'services[0].listen.host: must be an IP address or localhost' },
  { desc: 'shared listener without vhosts', input: { services: [{ name: 's', groups: [group], vhosts: ['a.x'] }, { name: 't', groups: [group] }] }, expected: 'services[1].vhosts: must not be empty: services[0] also listens on 0.0.0.0:8080' },
  { desc: 'shared listener with overlapping vhosts', input: { services: [{ name: 's', groups: [group], vhosts: ['a.x'] }, { name: 't', groups: [group], vhosts: ['b.x', 'A.X'] }] }, expected: 'services[1].vhosts[1]: "a.x" is also a vhost of services[0] on 0.0.0.0:8080' },
  { desc: 'vhost with port', input: service({ vhosts: ['a.x:8080'] }), expected: 'services[0].vhosts[0]: must be a host name without port' },
  { desc: 'vhost entry with port', input: service({ vhosts: [{ name: 'a.x:1', tls: { cert: 'c', key: 'k' } }] }), expected: 'services[0].vhosts[0].name: must be a host name without port' },
  { desc: 'vhost entry without key', input: service({ listen: { tls: { cert: 'c', key: 'k' } }, vhosts: [{ name: 'a.x', tls: { cert: 'c' } }] }), expected: 'services[0].vhosts[0].tls.key: is required' },
  { desc: 'vhost certificate on a plain listener', input: service({ vhosts: ['a.x', { name: 'b.x', tls: { cert: 'c', key: 'k' } }] }), expected: 'services[0].vhosts[1].tls: needs listen.tls: a certificate is for a TLS listener' },
  { desc: 'tls without key', input: service({ listen: { tls: { cert: 'c' } } }), expected: 'services[0].listen.tls.key: is required' },
  { desc: 'tls with old version', input: service({ listen: { tls: { cert: 'c', key: 'k', minVersion: 'TLSv1' } } }), expected: 'services[0].listen.tls.minVersion: must be one of "TLSv1.2", "TLSv1.3"' },
  { desc: 'h2c on a TLS listener', input: service({ listen: { tls: { cert: 'c', key: 'k' }, h2c: true } }), expected: 'services[0].listen.h2c: is HTTP/2 without TLS: a TLS listener offers HTTP/2 through ALPN (see http2)' },
  {
    desc: 'shared listener, TLS and plain',
    input: { services: [{ name: 's', groups: [group], vhosts: ['a.x'], listen: { tls: { cert: 'c', key: 'k' } } }, { name: 't', groups: [group], vhosts: ['b.x'] }] },
    expected: 'services[1].listen: services sharing 0.0.0.0:8080 share its connections: this one says plain HTTP, services[0] says TLS (TLSv1.2+, HTTP/2)',
  },
  { desc: 'duplicate vhost', input: service({ vhosts: ['a.x', 'a.x'] }), expected: 'services[0].vhosts[1]: duplicate of vhosts[0]' },
  { desc: 'sticky.by', input: service({ sticky: { by: 'session' } }), expected: 'services[0].sticky.by: must be one of "cookie", "header", "ip", "none"' },
  { desc: 'sticky cookie name', input: service({ sticky: { cookie: 'a;b' } }), expected: "services[0].sticky.cookie: must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)" },
  { desc: 'sticky header empty', input: service({ sticky: { header: '' } }), expected: 'services[0].sticky.header: must not be empty' },
  { desc: 'override header', input: service({ override: { header: 'x y' } }), expected: "services[0].override.header: must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~), or \"\" to disable" },
  { desc: 'retries too many', input: service({ retries: 6 }), expected: 'services[0].retries: must be <= 5' },
  { desc: 'retries negative', input: service({ retries: -1 }), expected: 'services[0].retries: must be >= 0' },
  { desc: 'timeout zero', input: service({ timeouts: { idleMs: 0 } }), expected: 'services[0].timeouts.idleMs: must be >= 1' },
  { desc: 'drainSeconds negative', input: service({ drainSeconds: -1 }), expected: 'services[0].drainSeconds: must be >= 0' },
  { desc: 'exposeGroupHeader type', input: service({ exposeGroupHeader: 'yes' }), expected: 'services[0].exposeGroupHeader: must be true or false, got a string' },
  { desc: 'health check protocol', input: service({ healthChecks: [{ protocol: 'COMMAND' }] }), expected: 'services[0].healthChecks[0].protocol: must be one of "HTTP", "HTTPS", "TCP", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"' },
  { desc: 'health check path', input: service({ healthChecks: [{ path: 'health' }] }), expected: 'services[0].healthChecks[0].path: must start with "/"' },
  { desc: 'health check unknown key', input: service({ healthChecks: [{ intervalSecond: 5 }] }), expected: 'services[0].healthChecks[0].intervalSecond: unknown key (did you mean intervalSeconds?)' },
  { desc: 'readiness protocol', input: service({ readinessChecks: [{ protocol: 'TCP' }] }), expected: 'services[0].readinessChecks[0].protocol: must be one of "HTTP", "HTTPS"' },
  { desc: 'readiness status code', input: service({ readinessChecks: [{ httpStatusCodesForReady: [200, 99] }] }), expected: 'services[0].readinessChecks[0].httpStatusCodesForReady[1]: must be >= 100' },
  { desc: 'dns server name', input: withRoot({ dns: { servers: ['dns.example:53'] } }), expected: 'dns.servers[0]: "dns.example" is not an IP address' },
  { desc: 'dns refresh order', input: withRoot({ dns: { refreshMinSeconds: 60 } }), expected: 'dns.refreshMinSeconds: must be <= refreshMaxSeconds (30)' },
  { desc: 'dns timeout', input: withRoot({ dns: { timeoutMs: 0 } }), expected: 'dns.timeoutMs: must be >= 1' },
  { desc: 'trusted proxy', input: withRoot({ trustedProxies: ['10.0.0.0/33'] }), expected: 'trustedProxies[0]: prefix length "33" must be an integer 0..32' },
  { desc: 'trusted proxy name', input: withRoot({ trustedProxies: ['proxy.local'] }), expected: 'trustedProxies[0]: "proxy.local" is not an IP address' },
  { desc: 'admin without token off loopback', input: withRoot({ admin: { host: '0.0.0.0' } }), expected: 'admin.token: required when admin.host is not a loopback address' },
  { desc: 'admin empty token', input: withRoot({ admin: { token: '${T}' } }), env: { T: '' }, expected: 'admin.token: must not be empty' },
  { desc: 'state store', input: withRoot({ state: { store: 'consul' } }), expected: 'state.store: must be one of "file", "etcd"' },
  { desc: 'etcd without endpoints', input: withRoot({ state: { store: 'etcd' } }), expected: 'state.endpoints: required when store is "etcd" (for example ["http://127.0.0.1:2379"])' },
  { desc: 'etcd endpoint not a URL', input: withRoot({ state: { store: 'etcd', endpoints: ['127.0.0.1:2379'] } }), expected: 'state.endpoints[0]: must be http://host:port, got "127.0.0.1:2379"' },
  { desc: 'etcd prefix without slash', input: withRoot({ state: { store: 'etcd', endpoints: ['http://127.0.0.1:2379'], prefix: 'zdd' } }), expected: 'state.prefix: must start and end with "/" and contain only letters, digits, ".", "_", "-" and "/"' },
  { desc: 'file store with an etcd field', input: withRoot({ state: { path: 'x.json', endpoints: ['http://127.0.0.1:2379'] } }), expected: 'state.endpoints: only for store "etcd" (store is "file")' },
  { desc: 'etcd store with a file path', input: withRoot({ state: { store: 'etcd', endpoints: ['http://127.0.0.1:2379'], path: 'x.json' } }), expected: 'state.path: only for store "file" (store is "etcd")' },
  { desc: 'missing env var', input: withRoot({ admin: { token: '${ZDD_ADMIN_TOKEN}' } }), expected: 'admin.token: environment variable ZDD_ADMIN_TOKEN is not set' },
]

describe('parseConfig: invalid configs name the field', () => {
  for (const { desc, input, expected, env } of cases) {
    it(desc, () => {
      let error: unknown
      try {
        parseConfig(input, env ?? {}, 'c.json')
      } catch (thrown) {
        error = thrown
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).message).toBe(`c.json: ${expected}`)
    })
  }

  it('never echoes a value: a misplaced secret stays off stderr', () => {
    expect(() => parseConfig(service({ listen: { port: '${T}' } }), { T: 's3cret' }, 'c.json')).toThrow(/^(?!.*s3cret)/)
  })

  it('keeps the message on one line whatever the keys hold', () => {
    expect(() => parseConfig(service({ weights: { 'x\ny': 1 } }), {}, 'c.json')).toThrow('c.json: services[0].weights.x y: unknown group (groups: a)')
  })
})
