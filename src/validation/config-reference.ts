/**
 * The config file's JSON Schema, generated from the zod schema, with each field's description
 * from FIELD_DOCS; and the reference table of docs/config-reference.md, generated from that.
 * `zdd-proxy config-schema` prints either; a test keeps the committed copies current.
 */
import { z } from 'zod'
import { FIELD_DOCS } from './config-docs.js'
import { configSchema } from './config-schema.js'

/** A JSON Schema node, as far as this file reads one. */
export interface JsonSchemaNode {
  type?: string
  description?: string
  default?: unknown
  enum?: readonly unknown[]
  const?: unknown
  properties?: Record<string, JsonSchemaNode>
  items?: JsonSchemaNode
  anyOf?: JsonSchemaNode[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  minLength?: number
  minItems?: number
  pattern?: string
  [key: string]: unknown
}

/** A number written as a decimal string, or any string holding `${VAR}` (expanded at load). */
const NUMBER_AS_STRING = '^-?(?:\\d+(?:\\.\\d+)?|\\.\\d+)$|\\$\\{'
const BOOLEAN_AS_STRING = '^(?:true|false)$|\\$\\{'

const SCHEMA_ID = 'https://zdd-proxy.dev/schema/config.json'

/** The config's JSON Schema (draft 2020-12), describing the file as written (before `${VAR}` expansion). */
export function configJsonSchema(): JsonSchemaNode {
  const schema = z.toJSONSchema(configSchema, {
    io: 'input',
    unrepresentable: 'any',
    override(ctx) {
      const def = ctx.zodSchema._zod.def as { type: string; defaultValue?: unknown; in?: { _zod: { def: { type: string } } } }
      const json = ctx.jsonSchema as JsonSchemaNode
      // Defaults on fields that transform their input are dropped by zod in input mode.
      if ((def.type === 'default' || def.type === 'prefault') && json.default === undefined) json.default = def.defaultValue
      // Numeric and boolean fields also take strings (what `${VAR}` expands to): see config-fields.ts.
      if (def.type === 'pipe' && def.in?._zod.def.type === 'transform') {
        const asString = json.type === 'boolean' ? BOOLEAN_AS_STRING : json.type === 'number' || json.type === 'integer' ? NUMBER_AS_STRING : undefined
        if (asString !== undefined) {
          const strict = { ...json }
          for (const key of Object.keys(json)) delete json[key]
          json.anyOf = [strict, { type: 'string', pattern: asString }]
        }
      }
    },
  }) as JsonSchemaNode
  const root: JsonSchemaNode = {
    $schema: schema.$schema,
    $id: SCHEMA_ID,
    title: 'zdd-proxy configuration',
    ...schema,
  }
  root.properties = { $schema: { type: 'string' }, ...root.properties }
  // `weights` is checked against the group names by code, not by zod: say here what it takes.
  const service = root.properties.services?.items
  if (service?.properties?.weights !== undefined) {
    service.properties.weights = {
      type: 'object',
      additionalProperties: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: NUMBER_AS_STRING }] },
    }
  }
  describe(root, '')
  return root
}

/** Every field path of the schema, in document order (`services[].listen.port`). */
export function fieldPaths(schema: JsonSchemaNode): string[] {
  const paths: string[] = []
  walk(schema, '', (path) => paths.push(path))
  return paths
}

function describe(schema: JsonSchemaNode, prefix: string): void {
  walk(schema, prefix, (path, node) => {
    const text = FIELD_DOCS[path]
    if (text !== undefined) node.description = text
  })
}

type Visit = (path: string, node: JsonSchemaNode, required: boolean) => void

function walk(node: JsonSchemaNode, prefix: string, visit: Visit): void {
  const required = Array.isArray(node.required) ? (node.required as string[]) : []
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`
    visit(path, child, required.includes(key))
    walkInto(child, path, visit)
  }
}

function walkInto(node: JsonSchemaNode, path: string, visit: Visit): void {
  walk(node, path, visit)
  if (node.items !== undefined) walkInto(node.items, `${path}[]`, visit)
  for (const option of node.anyOf ?? []) walkInto(option, path, visit)
}

/** The reference as Markdown: one row per field with its type, default and description. */
export function configReference(schema: JsonSchemaNode): string {
  const rows: string[] = []
  walk(schema, '', (path, node, required) => {
    if (path === '$schema') return
    const type = required ? `${typeOf(node)}, **required**` : typeOf(node)
    rows.push(`| \`${path}\` | ${type} | ${defaultOf(node)} | ${(node.description ?? '').replaceAll('|', '\\|')} |`)
  })
  return [
    '# Configuration reference',
    '',
    'Generated from the config schema by `npm run config-reference` (descriptions live in',
    '`src/validation/config-docs.ts`); `config/schema.json` is the same schema for editors. Numbers and',
    'booleans may also be written as strings, so `"port": "${PORT}"` works: `${VAR}` is replaced from the',
    'environment in every string (`$${` is a literal `${`). Unknown keys are errors.',
    '',
    '| field | type | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n')
}

function typeOf(node: JsonSchemaNode): string {
  const strict = node.anyOf?.[0] ?? node
  if (strict.enum !== undefined) return strict.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ')
  if (strict.const !== undefined) return `\`${JSON.stringify(strict.const)}\``
  const type = strict.type ?? 'any'
  if (type === 'array') return `array of ${typeOf(strict.items ?? {})}`
  const low = strict.minimum ?? strict.exclusiveMinimum
  const high = strict.maximum
  if ((type === 'integer' || type === 'number') && low !== undefined) {
    const lowText = strict.exclusiveMinimum !== undefined ? `> ${low}` : `${low}`
    return high !== undefined && high < Number.MAX_SAFE_INTEGER ? `${type} ${lowText}–${high}` : `${type} ${strict.exclusiveMinimum !== undefined ? lowText : `≥ ${low}`}`
  }
  return type
}

function defaultOf(node: JsonSchemaNode): string {
  if (node.default === undefined) return ''
  if (typeof node.default === 'object' && node.default !== null && Object.keys(node.default).length === 0 && !Array.isArray(node.default)) return ''
  return `\`${JSON.stringify(node.default)}\``
}
