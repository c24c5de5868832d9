import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/config/errors.js'
import { expandEnv, expandString } from '../../../src/config/expand.js'
import { parseConfig } from '../../../src/validation/config.js'

const env = { HOST: '127.0.0.1', PORT: '9001', EMPTY: '', W: '2.5' }

describe('expandString', () => {
  const cases: { desc: string; input: string; expected: string }[] = [
    { desc: 'no reference', input: 'plain $ text', expected: 'plain $ text' },
    { desc: 'whole value', input: '${PORT}', expected: '9001' },
    { desc: 'several references', input: '${HOST}:${PORT}', expected: '127.0.0.1:9001' },
    { desc: 'empty variable', input: 'a${EMPTY}b', expected: 'ab' },
    { desc: '$${ escapes a literal ${', input: '$${PORT}', expected: '${PORT}' },
    { desc: 'escape next to a reference', input: '$${HOST}=${HOST}', expected: '${HOST}=127.0.0.1' },
    { desc: 'lone $ and $$ stay', input: 'cost $5 $$', expected: 'cost $5 $$' },
    { desc: 'replacement is not expanded again', input: '${X}', expected: '${PORT}' },
  ]
  for (const { desc, input, expected } of cases) {
    it(desc, () => expect(expandString(input, { ...env, X: '${PORT}' }, 'c.json', ['f'])).toBe(expected))
  }

  const errors: { desc: string; input: string; expected: string }[] = [
    { desc: 'missing variable', input: 'x${NOPE}', expected: 'c.json: a[1].b: environment variable NOPE is not set' },
    { desc: 'unterminated', input: '${PORT', expected: 'c.json: a[1].b: unterminated "${" (write "$${" for a literal "${")' },
    { desc: 'bad name', input: '${PORT:-80}', expected: 'c.json: a[1].b: invalid variable reference "${PORT:-80}" (names are [A-Za-z_][A-Za-z0-9_]*)' },
  ]
  for (const { desc, input, expected } of errors) {
    it(desc, () => {
      expect(() => expandString(input, env, 'c.json', ['a', 1, 'b'])).toThrow(ConfigError)
      expect(() => expandString(input, env, 'c.json', ['a', 1, 'b'])).toThrow(expected)
    })
  }
})

describe('expandEnv', () => {
  it('expands string values everywhere, leaves keys and other types alone', () => {
    const input = { '${HOST}': ['${PORT}', 1, true, null, { k: '${W}' }] }
    expect(expandEnv(input, env, 'c.json')).toEqual({ '${HOST}': ['9001', 1, true, null, { k: '2.5' }] })
    expect(input['${HOST}'][0]).toBe('${PORT}')
  })

  it('keeps a "__proto__" key an own key', () => {
    const out = expandEnv(JSON.parse('{"__proto__": {"x": "${PORT}"}}'), env, 'c.json') as Record<string, unknown>
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: '9001' })
  })
})

describe('parseConfig with ${VAR}', () => {
  const raw = {
    admin: { port: '${ADMIN_PORT}', token: '${ZDD_ADMIN_TOKEN}' },
    state: { path: 'var/$${NOT_EXPANDED}.json' },
    services: [
      {
        name: 's',
        listen: { port: '${PORT}' },
        groups: [{ name: 'a', instances: ['${HOST}:${PORT}'] }, { name: 'b', srv: '_b._tcp.marathon.mesos' }],
        weights: { a: '${W}', b: 1 },
        exposeGroupHeader: '${EXPOSE}',
      },
    ],
  }

  it('expands before validation and coerces numeric strings in numeric fields', () => {
    const config = parseConfig(raw, { ...env, ADMIN_PORT: '0', ZDD_ADMIN_TOKEN: 't', EXPOSE: 'true' }, 'c.json')
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 0, token: 't', maxEventStreams: 64 })
    expect(config.services[0]!.listen.port).toBe(9001)
    expect(config.services[0]!.groups[0]!.instances).toEqual(['127.0.0.1:9001'])
    expect(config.services[0]!.weights).toEqual({ a: 2.5, b: 1 })
    expect(config.services[0]!.exposeGroupHeader).toBe(true)
    expect(config.state).toEqual({ store: 'file', path: 'var/${NOT_EXPANDED}.json' })
  })

  it('names the field of a missing variable', () => {
    expect(() => parseConfig(raw, { ...env, ADMIN_PORT: '0', EXPOSE: 'true' }, 'c.json')).toThrow(
      'c.json: admin.token: environment variable ZDD_ADMIN_TOKEN is not set',
    )
  })

  it('a literal ${ from $${ is then validated as it is', () => {
    const bad = { services: [{ name: 's', groups: [{ name: 'a', srv: '$${x}' }] }] }
    expect(() => parseConfig(bad, {}, 'c.json')).toThrow('c.json: services[0].groups[0].srv: must be a DNS name')
  })

  it('a numeric field with a non-numeric expansion fails with the field', () => {
    expect(() => parseConfig(raw, { ...env, ADMIN_PORT: 'http', ZDD_ADMIN_TOKEN: 't', EXPOSE: 'true' }, 'c.json')).toThrow(
      'c.json: admin.port: must be a number, got a string',
    )
  })
})
