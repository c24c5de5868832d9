import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseJson } from '../../../src/support/json.js'
import { ConfigError, loadConfig } from '../../../src/config/load.js'

describe('parseJson', () => {
  const cases: { desc: string; input: string; expected: { line: number; column: number; problem: string } }[] = [
    { desc: 'missing value', input: '{\n  "a": }', expected: { line: 2, column: 8, problem: 'expected a value, found "}"' } },
    { desc: 'trailing comma', input: '{"a": 1,\n}', expected: { line: 2, column: 1, problem: 'expected a property name in double quotes, found "}"' } },
    { desc: 'missing colon', input: '{"a" 1}', expected: { line: 1, column: 6, problem: 'expected ":", found "1"' } },
    { desc: 'missing comma in array', input: '[1\n 2]', expected: { line: 2, column: 2, problem: 'expected "," or "]", found "2"' } },
    { desc: 'unterminated object', input: '{"a": 1', expected: { line: 1, column: 8, problem: 'expected "," or "}", found end of file' } },
    { desc: 'empty file', input: '', expected: { line: 1, column: 1, problem: 'expected a value, found end of file' } },
    { desc: 'raw newline in string', input: '{"a": "x\ny"}', expected: { line: 1, column: 9, problem: 'control character in string (escape it, e.g. \\n)' } },
    { desc: 'leading zero', input: '{"a": 01}', expected: { line: 1, column: 7, problem: 'malformed number' } },
    { desc: 'comment', input: '// note\n{}', expected: { line: 1, column: 1, problem: 'expected a value, found "/"' } },
    { desc: 'text after the document', input: '{}\n{}', expected: { line: 2, column: 1, problem: 'unexpected "{" after the document' } },
    { desc: 'single quotes', input: "{'a': 1}", expected: { line: 1, column: 2, problem: 'expected a property name in double quotes, found "\'"' } },
  ]
  for (const { desc, input, expected } of cases) {
    it(desc, () => expect(parseJson(input)).toEqual({ ok: false, ...expected }))
  }

  it('locates every error JSON.parse finds (seeded mutations of a real config)', () => {
    const valid = JSON.stringify({ a: [1, -2.5e3, 'x\\"y', true, null, {}], b: { c: 'ü' } }, null, 2)
    const alphabet = '{}[],:"\\ 0123456789-+.eEtruefalsnl\n\t/x'
    let seed = 42
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31 // Deterministic LCG: the same cases every run.
      return seed % n
    }
    let failures = 0
    for (let round = 0; round < 3000; round++) {
      const at = random(valid.length)
      const char = alphabet[random(alphabet.length)]!
      const text = random(2) === 0 ? valid.slice(0, at) + char + valid.slice(at + 1) : valid.slice(0, at) + char + valid.slice(at)
      let parsedOk = true
      try {
        JSON.parse(text)
      } catch {
        parsedOk = false
      }
      const result = parseJson(text)
      expect(result.ok).toBe(parsedOk)
      if (!result.ok) {
        failures++
        expect(result.problem).not.toMatch(/JSON/) // Our scanner's wording, not V8's fallback.
      }
    }
    expect(failures).toBeGreaterThan(1000)
  })

  it('parses valid JSON and ignores a byte-order mark', () => {
    expect(parseJson('\ufeff{"a": [1, "\\u00e9", true, null]}')).toEqual({ ok: true, value: { a: [1, 'é', true, null] } })
  })
})

describe('loadConfig', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zdd-config-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function load(name: string, text: string, env: NodeJS.ProcessEnv = {}) {
    const file = join(dir, name)
    await writeFile(file, text)
    return loadConfig(file, env)
  }

  it('reads, expands and validates a file', async () => {
    const config = await load('ok.json', JSON.stringify({ services: [{ name: 's', listen: { port: '${P}' }, groups: [{ name: 'a', instances: ['127.0.0.1:1'] }] }] }), { P: '0' })
    expect(config.services[0]!.listen).toEqual({ host: '0.0.0.0', port: 0, maxConnections: 10_000, http2: true, h2c: false })
  })

  it('names the file and position of invalid JSON', async () => {
    const file = join(dir, 'bad.json')
    await expect(load('bad.json', '{\n  "services": [,]\n}')).rejects.toThrow(`${file}: invalid JSON at line 2, column 16: expected a value, found ","`)
  })

  it('names the file and the field of a bad value', async () => {
    const file = join(dir, 'field.json')
    await expect(load('field.json', '{"services": [{"name": "s", "groups": [{"name": "a", "srv": "x.y"}], "retries": 9}]}')).rejects.toThrow(
      `${file}: services[0].retries: must be <= 5`,
    )
  })

  it('names a missing file', async () => {
    const file = join(dir, 'absent.json')
    const error = await loadConfig(file, {}).catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toBe(`${file}: cannot read: no such file`)
  })

  it('names a directory given as the file', async () => {
    await expect(loadConfig(dir, {})).rejects.toThrow(`${dir}: cannot read: is a directory`)
  })

  it('uses the path as given in the message', async () => {
    await expect(loadConfig('no/such/config.json', {})).rejects.toThrow(/^no\/such\/config\.json: cannot read: no such file$/)
  })
})
