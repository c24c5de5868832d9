import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

const agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 })

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers, dispatcher: agent })
  await response.body.dump()
  return {
    group: response.headers['x-zdd-group'] as string,
    setCookie: response.headers['set-cookie'] as string | string[] | undefined,
  }
}

/** The sticky id a proxy issued in Set-Cookie. */
function issuedId(setCookie: string | string[] | undefined): string {
  const line = [setCookie ?? []].flat().find((value) => value.startsWith('zdd_client='))
  if (line === undefined) throw new Error('no zdd_client cookie issued')
  return line.slice('zdd_client='.length, line.indexOf(';'))
}

describe('group choice', () => {
  let a: TestBackend
  let b: TestBackend
  const config = (weights: Record<string, number>) => serviceConfig({ a: [a.address], b: [b.address] }, weights)

  beforeAll(async () => {
    a = await startBackend('a1')
    b = await startBackend('b1')
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    await a.close()
    await b.close()
    removeTempFiles()
  })

  it('issues a sticky cookie once and honours it', async () => {
    const proxy = await startProxyProcess(config({ a: 50, b: 50 }))
    const first = await get(`${proxy.url}/`)
    const id = issuedId(first.setCookie)
    expect(first.setCookie).toMatch(/HttpOnly/)
    expect(first.setCookie).toMatch(/SameSite=Lax/)
    expect(first.setCookie).toMatch(/Path=\//)
    for (let i = 0; i < 20; i++) {
      const again = await get(`${proxy.url}/`, { cookie: `other=1; zdd_client=${id}` })
      expect(again.group).toBe(first.group)
      expect(again.setCookie).toBeUndefined()
    }
    await proxy.stop()
  })

  it('ignores override headers and cookies unless the config turns them on', async () => {
    const proxy = await startProxyProcess(config({ a: 100, b: 0 }))
    for (let i = 0; i < 10; i++) {
      expect((await get(`${proxy.url}/`, { 'x-zdd-group': 'b' })).group).toBe('a')
      expect((await get(`${proxy.url}/`, { cookie: 'zdd_group=b' })).group).toBe('a')
    }
    await proxy.stop()
  })

  it('forces a weighted group named by the configured override header or cookie; ignores unknown names', async () => {
    const override = { override: { header: 'x-zdd-group', cookie: 'zdd_group' } }
    const proxy = await startProxyProcess(serviceConfig({ a: [a.address], b: [b.address] }, { a: 99, b: 1 }, override))
    for (let i = 0; i < 10; i++) {
      expect((await get(`${proxy.url}/`, { 'x-zdd-group': 'b', cookie: `zdd_client=fixed-${i}` })).group).toBe('b')
      expect((await get(`${proxy.url}/`, { cookie: `zdd_group=b; zdd_client=fixed-${i}` })).group).toBe('b')
    }
    // Unknown names fall back to the sticky choice: the same group as without any override.
    for (let i = 0; i < 10; i++) {
      const plain = (await get(`${proxy.url}/`, { cookie: `zdd_client=fixed-${i}` })).group
      expect((await get(`${proxy.url}/`, { 'x-zdd-group': 'nope', cookie: `zdd_client=fixed-${i}` })).group).toBe(plain)
      expect((await get(`${proxy.url}/`, { cookie: `zdd_group=nope; zdd_client=fixed-${i}` })).group).toBe(plain)
    }
    await proxy.stop()
  })

  it('keeps each cookie in its group across restarts, and a higher canary weight only moves clients into it', async () => {
    const clients = 400
    let proxy = await startProxyProcess(config({ a: 80, b: 20 }))
    const seen: Array<{ id: string; group: string }> = []
    for (let i = 0; i < clients; i++) {
      const response = await get(`${proxy.url}/`)
      seen.push({ id: issuedId(response.setCookie), group: response.group })
    }
    await proxy.stop()

    proxy = await startProxyProcess(config({ a: 80, b: 20 }))
    for (const client of seen) {
      expect((await get(`${proxy.url}/`, { cookie: `zdd_client=${client.id}` })).group).toBe(client.group)
    }
    await proxy.stop()

    proxy = await startProxyProcess(config({ a: 50, b: 50 }))
    let moved = 0
    for (const client of seen) {
      const now = (await get(`${proxy.url}/`, { cookie: `zdd_client=${client.id}` })).group
      if (client.group === 'b') expect(now).toBe('b')
      if (client.group === 'a' && now === 'b') moved++
    }
    // About 3/8 of the ~320 clients in a move to b; none moving would be a broken hash (p < 1e-30).
    expect(moved).toBeGreaterThan(0)
    await proxy.stop()
  })
})
