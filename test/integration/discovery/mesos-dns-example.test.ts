import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DnsConfig, GroupConfig } from '../../../src/config/types.js'
import { formatAddress } from '../../../src/discovery/types.js'
import { createResolver } from '../../../src/discovery/watcher.js'
import { mesosRecords, startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js'
import { stopAll } from '../../helpers/processes.js'

const root = new URL('../../../', import.meta.url)
const readJson = async (path: string, base = root) => JSON.parse(await readFile(new URL(path, base), 'utf8')) as Record<string, unknown>

/** Mesos-DNS's name for a Marathon app: the id's path segments reversed, joined by '-' (`/zdd/blue` → `blue-zdd`). */
const mesosDnsName = (appId: string) => appId.split('/').filter(Boolean).reverse().join('-')

interface Example {
  dns: DnsConfig
  services: { groups: GroupConfig[]; healthChecks: unknown[] }[]
}

let dns: Dnsmasq
beforeAll(async () => {
  dns = await startDnsmasq()
})
afterAll(async () => {
  await dns?.stop()
  await stopAll()
})

describe('config/mesos-dns.example.json', () => {
  it("has one SRV group per lab app, named as Mesos-DNS would, with the app's health checks", async () => {
    const example = (await readJson('config/mesos-dns.example.json')) as unknown as Example
    const service = example.services[0]!
    for (const file of ['blue.json', 'green.json']) {
      const app = await readJson(`test/fixtures/seed-lab/blue-green/${file}`)
      const srv = `_${mesosDnsName(app.id as string)}._tcp.marathon.mesos`
      expect(service.groups.map((group) => group.srv)).toContain(srv)
      expect(service.healthChecks).toEqual(app.healthChecks)
    }
  })

  it('resolves both groups from Mesos-DNS shaped records', async () => {
    const example = (await readJson('config/mesos-dns.example.json')) as unknown as Example
    await dns.setRecords(
      mesosRecords({
        'blue-zdd': [{ port: 31001 }, { port: 31002 }, { port: 31003 }, { port: 31004 }],
        'green-zdd': [{ port: 31005 }],
      }),
    )
    const found: Record<string, string[]> = {}
    for (const group of example.services[0]!.groups) {
      const resolver = createResolver(group, { ...example.dns, servers: [dns.server] })
      const resolution = await resolver.resolve()
      resolver.close?.()
      found[group.name] = resolution.kind === 'ok' ? resolution.addresses.map(formatAddress) : [resolution.kind]
    }
    expect(found).toEqual({
      blue: ['127.0.0.1:31001', '127.0.0.1:31002', '127.0.0.1:31003', '127.0.0.1:31004'],
      green: ['127.0.0.1:31005'],
    })
  })
})
