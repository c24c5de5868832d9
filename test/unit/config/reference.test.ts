import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { FIELD_DOCS } from '../../../src/validation/config-docs.js'
import { configJsonSchema, configReference, fieldPaths } from '../../../src/validation/config-reference.js'
import { ConfigError, parseConfig } from '../../../src/validation/config.js'

const repoFile = (path: string) => new URL(`../../../${path}`, import.meta.url)
const schema = configJsonSchema()
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema)

/** The JSON blocks of the README that are whole configs (they have "services"). */
function readmeConfigs(): unknown[] {
  const readme = readFileSync(repoFile('README.md'), 'utf8')
  return [...readme.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((match) => JSON.parse(match[1]!) as unknown)
    .filter((value) => typeof value === 'object' && value !== null && 'services' in value)
}

describe('config reference', () => {
  it('describes every field, and describes no field that does not exist', () => {
    const paths = fieldPaths(schema)
    expect(paths.filter((path) => FIELD_DOCS[path] === undefined)).toEqual([])
    expect(Object.keys(FIELD_DOCS).filter((path) => !paths.includes(path))).toEqual([])
  })

  it('config/schema.json and docs/config-reference.md are current (else: npm run config-reference)', () => {
    expect(readFileSync(repoFile('config/schema.json'), 'utf8')).toBe(`${JSON.stringify(schema, null, 2)}\n`)
    expect(readFileSync(repoFile('docs/config-reference.md'), 'utf8')).toBe(configReference(schema))
  })

  it('validates every example config, which the proxy accepts too', () => {
    const examples: Array<[string, unknown]> = [
      ['config/default.json', JSON.parse(readFileSync(repoFile('config/default.json'), 'utf8'))],
      ['config/mesos-dns.example.json', JSON.parse(readFileSync(repoFile('config/mesos-dns.example.json'), 'utf8'))],
      ...readmeConfigs().map((config, index): [string, unknown] => [`README.md block ${index + 1}`, config]),
    ]
    expect(examples.length).toBeGreaterThanOrEqual(3)
    for (const [name, config] of examples) {
      expect(validate(config) ? [] : validate.errors, name).toEqual([])
      expect(() => parseConfig(config, {}, name), name).not.toThrow()
    }
  })

  it('takes `${VAR}` in numeric and boolean fields, as the proxy does', () => {
    const config = {
      services: [{ name: 's', listen: { port: '${PORT}' }, groups: [{ name: 'a', instances: ['127.0.0.1:1'] }], exposeGroupHeader: '${EXPOSE}' }],
    }
    expect(validate(config) ? [] : validate.errors).toEqual([])
    expect(parseConfig(config, { PORT: '8081', EXPOSE: 'true' }, 'c.json').services[0]!.listen.port).toBe(8081)
  })

  it('an unknown key fails in the schema and at start, with the same field named', () => {
    const config = {
      services: [{ name: 's', groups: [{ name: 'a', instances: ['127.0.0.1:1'] }], timeouts: { idelMs: 5 } }],
    }
    expect(validate(config)).toBe(false)
    const unknown = validate.errors!.find((error) => error.keyword === 'additionalProperties')!
    const schemaField = `${unknown.instancePath}/${(unknown.params as { additionalProperty: string }).additionalProperty}`
    expect(schemaField).toBe('/services/0/timeouts/idelMs')
    let field = ''
    try {
      parseConfig(config, {}, 'c.json')
    } catch (error) {
      field = (error as ConfigError).field
    }
    expect(field).toBe('services[0].timeouts.idelMs')
    expect(schemaField.slice(1).replace(/\/(\d+)\//g, '[$1].').replaceAll('/', '.')).toBe(field)
  })
})
