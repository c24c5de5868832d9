import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runCanaryCheck } from '../../src/canary-check/run.js'
import { runCli, stopAll } from '../helpers/processes.js'

/**
 * Version of the client holding key number `index`: its golden-ratio point below `share` sees 0.9.
 * The points spread evenly, so 10 clients split exactly 8/2 at share 0.8 and no count is left to chance.
 */
function versionOf(index: number, share: number): string {
  return (index * 0.6180339887498949) % 1 < share ? '0.9' : '1.0'
}

function indexOfKey(key: string | undefined): number | undefined {
  const match = key?.match(/^k(\d+)\.[0-9a-f]+$/)
  return match ? Number(match[1]) : undefined
}

interface Behaviour {
  /** Share of keys that see 0.9. */
  share: number
  /** `flip`: a key sees 0.9 and 1.0 in turn; `fail-even`: every second request of a key gets 500. */
  mode: 'sticky' | 'flip' | 'fail-even'
  /** Send the version as `x-zdd-group: <version>-group` and a different one in the body. */
  groupHeader: boolean
  /** Stick by this request header instead of a cookie. */
  stickyHeader?: string
}

/** A stand-in for a sticky proxy in front of simpleservice, on a port the OS picks. */
class FakeProxy {
  behaviour: Behaviour = { share: 0.8, mode: 'sticky', groupHeader: false }
  readonly issued: string[] = []
  requests = 0
  withoutId = 0
  readonly #perKey = new Map<string, number>()
  readonly #server: Server = createServer((req, res) => this.#handle(req, res))
  url = ''

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1')
    await new Promise((resolve) => this.#server.once('listening', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++
    if (req.url === '/hang') return // Never answers: for timeouts.
    const { share, mode, groupHeader, stickyHeader } = this.behaviour
    const id = req.headers[stickyHeader ?? 'x-client-id']
    if (typeof id !== 'string' || id === '') this.withoutId++
    let key: string
    let index: number
    if (stickyHeader) {
      key = String(id)
      index = Number.parseInt(key.replace(/[^0-9a-f]/g, '').slice(0, 8), 16)
    } else {
      const cookie = req.headers.cookie?.match(/(?:^|; )zdd_client=([^;]*)/)?.[1]
      const known = indexOfKey(cookie)
      if (cookie !== undefined && known !== undefined) {
        key = cookie
        index = known
      } else {
        index = this.issued.length
        key = `k${index}.${randomBytes(6).toString('hex')}`
        this.issued.push(key)
        res.setHeader('set-cookie', `zdd_client=${key}; Path=/; HttpOnly; SameSite=Lax`)
      }
    }
    const count = (this.#perKey.get(key) ?? 0) + 1
    this.#perKey.set(key, count)
    if (mode === 'fail-even' && count % 2 === 0) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom')
      return
    }
    let version = versionOf(index, share)
    if (mode === 'flip') version = count % 2 === 1 ? '0.9' : '1.0'
    if (groupHeader) res.setHeader('x-zdd-group', `${version}-group`)
    const bodyVersion = groupHeader ? 'not-this' : version
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`{"host": "${req.headers.host}", "version": "${bodyVersion}", "result": "all is well"}`)
  }
}

/** Client counts per version that the server's rule gives for the keys it issued. */
function predicted(keys: readonly string[], share: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const key of keys) {
    const version = versionOf(indexOfKey(key)!, share)
    counts[version] = (counts[version] ?? 0) + 1
  }
  return counts
}

let proxy: FakeProxy
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canary-check-'))
})

afterEach(async () => {
  await stopAll()
  await proxy?.close()
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('canary-check CLI', () => {
  it('prints the lab first line', async () => {
    proxy = await new FakeProxy().start()
    const { code, stdout, stderr } = await runCli(['canary-check', proxy.url])
    expect(stdout).toBe('Out of 10 clients of simpleservice 8 saw version 0.9 and 2 saw version 1.0\n')
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })

  it('measures sticky clients: counts add up, no violations, no errors', async () => {
    proxy = await new FakeProxy().start()
    const { code, stdout, stderr } = await runCli(['canary-check', proxy.url, '200', '--requests', '5', '--json'])
    expect(stderr).toBe('')
    expect(stdout.trim().split('\n')).toHaveLength(1)
    const json = JSON.parse(stdout) as Record<string, unknown>
    expect(Object.keys(json).slice(0, 4)).toEqual(['clients', 'versions', 'stickyViolations', 'errors'])
    expect(json).toMatchObject({ clients: 200, stickyViolations: 0, errors: 0, requests: 1000 })
    // Each client got exactly one cookie, sent it back, and sent its id every time.
    expect(proxy.issued).toHaveLength(200)
    expect(proxy.requests).toBe(1000)
    expect(proxy.withoutId).toBe(0)
    expect(json.versions).toEqual(predicted(proxy.issued, 0.8))
    expect(code).toBe(0)
  })

  it('reports clients that saw two versions as sticky violations, exit 1', async () => {
    proxy = await new FakeProxy().start()
    proxy.behaviour.mode = 'flip'
    const { code, stdout } = await runCli(['canary-check', proxy.url, '20', '--requests', '2'])
    expect(stdout.split('\n')).toEqual([
      'Out of 20 clients of simpleservice 20 saw version 0.9',
      'Sticky violations: 20 clients saw more than one version',
      'Errors: 0 of 40 requests failed',
      '',
    ])
    expect(code).toBe(1)
  })

  it('counts 500 answers as errors, exit 1', async () => {
    proxy = await new FakeProxy().start()
    proxy.behaviour.mode = 'fail-even'
    const json = await runCli(['canary-check', proxy.url, '30', '--requests', '3', '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({
      clients: 30,
      stickyViolations: 0,
      errors: 30,
      requests: 90,
      errorReasons: { 'HTTP 500': 30 },
    })
    expect(json.code).toBe(1)

    const text = await runCli(['canary-check', proxy.url, '5', '--requests', '2'])
    expect(text.stdout).toContain('Errors: 5 of 10 requests failed (HTTP 500: 5)\n')
    expect(text.code).toBe(1)
  })

  it('compares stored identities client by client across a weight change', async () => {
    proxy = await new FakeProxy().start()
    const file = join(dir, 'ids.json')
    const first = await runCli(['canary-check', proxy.url, '200', '--requests', '2', '--identities', file, '--json'])
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).not.toHaveProperty('moved')
    const stored = JSON.parse(await readFile(file, 'utf8')) as {
      clients: { id: string; version: string; cookies: { name: string; value: string }[] }[]
    }
    expect(stored.clients).toHaveLength(200)
    const keys = stored.clients.map((client) => client.cookies.find((c) => c.name === 'zdd_client')!.value)
    expect([...keys].sort()).toEqual([...proxy.issued].sort())
    for (const [i, client] of stored.clients.entries()) {
      expect(client.version).toBe(versionOf(indexOfKey(keys[i])!, 0.8))
    }

    // The split moves to 50/50: exactly the keys with a point in [0.5, 0.8) move to 1.0.
    const movers = keys.filter((key) => versionOf(indexOfKey(key)!, 0.8) !== versionOf(indexOfKey(key)!, 0.5))
    proxy.behaviour.share = 0.5
    const second = await runCli(['canary-check', proxy.url, '--requests', '2', '--identities', file, '--json'])
    const json = JSON.parse(second.stdout) as Record<string, unknown>
    expect(json).toMatchObject({ clients: 200, stickyViolations: 0, errors: 0 })
    expect(json.versions).toEqual(predicted(keys, 0.5))
    expect(json.moved).toEqual(movers.length > 0 ? { '0.9->1.0': movers.length } : {})
    expect(proxy.issued).toHaveLength(200) // Same cookies: the proxy issued none.
    expect(second.code).toBe(0)

    // Back to 80/20 with 10 more clients: the same ones move back, the new ones are not compared.
    proxy.behaviour.share = 0.8
    const third = await runCli(['canary-check', proxy.url, '210', '--identities', file])
    expect(third.stdout.split('\n')[1]).toBe(
      `Compared with ${file}: 0 clients moved 0.9 → 1.0, ${movers.length} moved 1.0 → 0.9`,
    )
    expect(third.code).toBe(0)
    expect(proxy.issued).toHaveLength(210)
    expect(JSON.parse(await readFile(file, 'utf8')).clients).toHaveLength(210)

    const fewer = await runCli(['canary-check', proxy.url, '100', '--identities', file])
    expect(fewer.code).toBe(2)
    expect(fewer.stderr).toMatch(/holds 210 clients/)
  })

  it('refuses a corrupt identities file with one line, exit 1, and leaves it untouched', async () => {
    proxy = await new FakeProxy().start()
    const file = join(dir, 'corrupt.json')
    await writeFile(file, '{"format": "zdd-canary-identities/1", "clients": [{"id": 5}]}')
    const { code, stdout, stderr } = await runCli(['canary-check', proxy.url, '--identities', file])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/not a valid identities file: clients\.0\.id/)
    expect(await readFile(file, 'utf8')).toBe('{"format": "zdd-canary-identities/1", "clients": [{"id": 5}]}')
    expect(proxy.requests).toBe(0)
  })

  it('sticks by a header with --id-header', async () => {
    proxy = await new FakeProxy().start()
    proxy.behaviour.stickyHeader = 'x-user'
    const args = ['canary-check', proxy.url, '50', '--requests', '3', '--id-header', 'X-User', '--json']
    const { code, stdout } = await runCli(args)
    expect(JSON.parse(stdout)).toMatchObject({ clients: 50, stickyViolations: 0, errors: 0 })
    expect(proxy.withoutId).toBe(0)
    expect(code).toBe(0)
  })

  it('rejects bad usage with exit 2 before sending anything', async () => {
    proxy = await new FakeProxy().start()
    for (const args of [
      ['not-a-url'],
      [proxy.url, '0'],
      [proxy.url, '--timeout', 'abc'],
      [proxy.url, '--id-header', 'bad header'],
    ]) {
      const { code, stderr } = await runCli(['canary-check', ...args])
      expect(code, args.join(' ')).toBe(2)
      expect(stderr.trim().split('\n')).toHaveLength(1)
    }
    expect(proxy.requests).toBe(0)
  })
})

describe('runCanaryCheck', () => {
  it('takes the version from x-zdd-group over the body', async () => {
    proxy = await new FakeProxy().start()
    proxy.behaviour.groupHeader = true
    const report = await runCanaryCheck({ url: proxy.url, clients: 10, requests: 2 })
    expect(report.versions).toEqual({ '0.9-group': 8, '1.0-group': 2 })
    expect(report.stickyViolations).toBe(0)
  })

  it('reuses identities in memory and reports movement', async () => {
    proxy = await new FakeProxy().start()
    const before = await runCanaryCheck({ url: `${proxy.url}/`, clients: 10 })
    expect(before.url).toBe(`${proxy.url}/endpoint0`)
    proxy.behaviour.share = 0.3
    const after = await runCanaryCheck({ url: proxy.url, identities: before.identities })
    const expected = proxy.issued.filter((k) => versionOf(indexOfKey(k)!, 0.8) !== versionOf(indexOfKey(k)!, 0.3))
    expect(after.comparison?.moved).toEqual({ '0.9->1.0': expected.length })
    expect(after.comparison?.compared).toBe(10)
  })

  it('counts timeouts and refused connections as errors', async () => {
    proxy = await new FakeProxy().start()
    const slow = await runCanaryCheck({ url: `${proxy.url}/hang`, clients: 2, timeoutMs: 200 })
    expect(slow.errorReasons).toEqual([{ reason: 'timeout', count: 2 }])
    expect(slow.unanswered).toBe(2)

    const before = await runCanaryCheck({ url: proxy.url, clients: 3 })
    const closed = await new FakeProxy().start()
    await closed.close()
    const refused = await runCanaryCheck({ url: closed.url, requests: 2, identities: before.identities })
    expect(refused.errors).toBe(6)
    expect(refused.errorReasons[0]?.reason).toBe('ECONNREFUSED')
    expect(refused.versions).toEqual({})
    // A run that got no answers keeps the last known versions, so it does not erase the baseline.
    expect(refused.identities).toEqual(before.identities)
    expect(refused.comparison?.compared).toBe(0)
  })
})
