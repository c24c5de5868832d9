import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CanaryCheckError } from '../../../src/canary-check/errors.js'
import {
  parseIdentities,
  planClients,
  readIdentities,
  writeIdentities,
} from '../../../src/canary-check/identities.js'
import type { StoredClient } from '../../../src/canary-check/types.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canary-identities-'))
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const clients: StoredClient[] = [
  { id: 'c1', version: '0.9', cookies: [{ name: 'zdd_client', value: 'k1' }] },
  { id: 'c2', version: null, cookies: [] },
  { id: 'c3', version: '1.0', cookies: [{ name: 'zdd_client', value: 'k3', expiresAt: 1_900_000_000_000 }] },
]

describe('identities file', () => {
  it('round-trips clients, ids, cookies and versions', async () => {
    const file = join(dir, 'ids.json')
    await writeIdentities(file, clients, 'http://127.0.0.1:8080/endpoint0', 'simpleservice')
    expect(await readIdentities(file)).toEqual(clients)
    // Only the file itself remains: the temporary file was renamed over it.
    expect(await readdir(dir)).toEqual(['ids.json'])
  })

  it('replaces an existing file whole', async () => {
    const file = join(dir, 'ids.json')
    await writeIdentities(file, clients, 'http://x/', 's')
    await writeIdentities(file, clients.slice(0, 1), 'http://x/', 's')
    expect(await readIdentities(file)).toEqual(clients.slice(0, 1))
  })

  it('reads a missing file as no identities', async () => {
    expect(await readIdentities(join(dir, 'absent.json'))).toBeUndefined()
  })

  const corrupt: { desc: string; text: string; message: RegExp }[] = [
    { desc: 'not JSON', text: '{"format": ', message: /not JSON/ },
    { desc: 'wrong format marker', text: '{"format":"other","clients":[]}', message: /format/ },
    { desc: 'no clients', text: '{"format":"zdd-canary-identities/1","clients":[]}', message: /clients/ },
    {
      desc: 'client without id',
      text: '{"format":"zdd-canary-identities/1","clients":[{"version":null,"cookies":[]}]}',
      message: /clients\.0\.id/,
    },
    {
      desc: 'id with a line break',
      text: '{"format":"zdd-canary-identities/1","clients":[{"id":"a\\nb","version":null,"cookies":[]}]}',
      message: /clients\.0\.id/,
    },
    {
      desc: 'cookie value with a semicolon',
      text:
        '{"format":"zdd-canary-identities/1","clients":[{"id":"a","version":null,' +
        '"cookies":[{"name":"x","value":"1;2"}]}]}',
      message: /clients\.0\.cookies\.0\.value/,
    },
    {
      desc: 'duplicate ids',
      text:
        '{"format":"zdd-canary-identities/1","clients":[{"id":"a","version":null,"cookies":[]},' +
        '{"id":"a","version":"1.0","cookies":[]}]}',
      message: /appears twice/,
    },
  ]
  for (const { desc, text, message } of corrupt) {
    it(`rejects a corrupt file (${desc}) with one line naming it, and leaves it alone`, async () => {
      const file = join(dir, 'ids.json')
      await writeFile(file, text)
      const error = await readIdentities(file).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CanaryCheckError)
      expect((error as CanaryCheckError).kind).toBe('input')
      expect((error as Error).message).toMatch(message)
      expect((error as Error).message).toContain(file)
      expect((error as Error).message).not.toContain('\n')
      expect(await readFile(file, 'utf8')).toBe(text)
    })
  }

  it('parses the text it is given without touching disk', () => {
    expect(() => parseIdentities('[]', 'x.json')).toThrow(/x\.json is not a valid identities file/)
  })
})

describe('planClients', () => {
  it('makes distinct new clients, 10 by default', () => {
    const planned = planClients(undefined, undefined, 'f')
    expect(planned).toHaveLength(10)
    expect(new Set(planned.map((c) => c.id)).size).toBe(10)
    expect(planned.every((c) => c.cookies.length === 0 && c.version === null)).toBe(true)
  })

  it('reuses stored clients, as many as stored by default', () => {
    expect(planClients(clients, undefined, 'f')).toEqual(clients)
    expect(planClients(clients, 3, 'f')).toEqual(clients)
  })

  it('adds new clients after the stored ones when asked for more', () => {
    const planned = planClients(clients, 5, 'f')
    expect(planned.slice(0, 3)).toEqual(clients)
    expect(planned).toHaveLength(5)
    expect(new Set(planned.map((c) => c.id)).size).toBe(5)
  })

  it('refuses fewer clients than stored as a usage error', () => {
    const error = (() => {
      try {
        planClients(clients, 2, 'ids.json')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(CanaryCheckError)
    expect((error as CanaryCheckError).kind).toBe('usage')
    expect((error as Error).message).toMatch(/ids\.json holds 3 clients/)
  })
})
