import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FileStore } from '../../../src/state/file-store.js'
import { mergeWithConfig } from '../../../src/state/merge.js'
import { parseState } from '../../../src/validation/state.js'
import { applyChange, initialState, StateError } from '../../../src/state/store.js'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-store-'))
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const time = '2026-01-01T00:00:00.000Z'
const sample = applyChange(initialState(new Map([['s', { a: 1, b: 0 }]])), { service: 's', kind: 'weights', after: { a: 1, b: 3 }, time, reason: 'r' })

describe('FileStore', () => {
  it('loads nothing before the first save, then exactly what was saved', async () => {
    const store = new FileStore(join(tempDir(), 'sub', 'state.json'))
    expect(await store.load()).toBeUndefined()
    await store.prepare()
    await store.save(sample)
    expect(await store.load()).toEqual(sample)
    const next = applyChange(sample, { service: 's', kind: 'weights', after: { a: 0, b: 1 }, time })
    await store.save(next)
    expect(await store.load()).toEqual(next)
    // Only the file: temp files are renamed over it, the writability probe is removed.
    expect(readdirSync(join(store.path, '..'))).toEqual(['state.json'])
  })

  it('refuses a corrupt file with a one-line error naming it, and never rewrites it on load', async () => {
    const path = join(tempDir(), 'state.json')
    writeFileSync(path, '{"format":"zdd-state/1","revision":')
    const store = new FileStore(path)
    const error = await store.load().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(StateError)
    expect((error as Error).message).toMatch(new RegExp(`^state file ${path}: invalid JSON at line 1, column 36`))
    expect((error as Error).message).not.toContain('\n')
    expect(readFileSync(path, 'utf8')).toBe('{"format":"zdd-state/1","revision":')
  })

  it.skipIf(process.getuid?.() === 0)('says when the file cannot be read or the directory not written', async () => {
    const dir = tempDir()
    const path = join(dir, 'state.json')
    writeFileSync(path, JSON.stringify(sample))
    chmodSync(path, 0o000)
    await expect(new FileStore(path).load()).rejects.toThrow(/cannot read: permission denied/)
    chmodSync(path, 0o600)
    chmodSync(dir, 0o500)
    await expect(new FileStore(path).prepare()).rejects.toThrow(/is not writable: permission denied/)
    await expect(new FileStore(path).save(sample)).rejects.toThrow(/cannot write: permission denied/)
    chmodSync(dir, 0o700)
  })
})

describe('parseState and mergeWithConfig', () => {
  const config = new Map<string, { weights: Record<string, number>; groups: string[] }>([
    ['s', { weights: { a: 1, b: 1 }, groups: ['a', 'b'] }],
    ['t', { weights: { x: 1 }, groups: ['x'] }],
  ])

  it('lays the saved weights over the config and keeps services the file does not mention', () => {
    const merged = mergeWithConfig(parseState(JSON.stringify(sample), 'f'), config, 'f')
    expect(merged.services.s!.weights).toEqual({ a: 1, b: 3 })
    expect(merged.services.t!.weights).toEqual({ x: 1 })
    expect(merged.revision).toBe(1)
  })

  const refused: { desc: string; state: unknown; message: RegExp }[] = [
    { desc: 'a wrong shape', state: { ...sample, revision: -1 }, message: /^state file f: revision: / },
    { desc: 'a missing history', state: { format: 'zdd-state/1', revision: 1, services: {} }, message: /history/ },
    { desc: 'an unknown service', state: { ...sample, services: { gone: { weights: { a: 1 } } } }, message: /service "gone" is not in the config/ },
    { desc: 'an unknown group', state: { ...sample, services: { s: { weights: { c: 1 } } } }, message: /services\.s\.weights\.c: unknown group/ },
    { desc: 'weights summing to 0', state: { ...sample, services: { s: { weights: { a: 0 } } } }, message: /services\.s\.weights: at least one weight must be > 0/ },
    { desc: 'history ahead of the revision', state: { ...sample, revision: 0 }, message: /history has revision 1 above/ },
  ]
  for (const { desc, state, message } of refused) {
    it(`refuses ${desc}`, () => {
      expect(() => mergeWithConfig(parseState(JSON.stringify(state), 'f'), config, 'f')).toThrow(message)
    })
  }
})
