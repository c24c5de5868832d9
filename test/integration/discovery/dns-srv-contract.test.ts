import { afterAll, beforeAll } from 'vitest'
import { DnsSrvResolver } from '../../../src/discovery/dns-srv.js'
import { startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js'
import { stopAll } from '../../helpers/processes.js'
import { runResolverContract } from '../../unit/discovery/resolver-contract.js'

let dns: Dnsmasq
beforeAll(async () => {
  dns = await startDnsmasq()
})
afterAll(async () => {
  await dns?.stop()
  await stopAll()
})

// Each address gets its own SRV target name, so duplicates are two instances on one address and port.
runResolverContract('dns-srv (dnsmasq)', async (addresses) => {
  const name = '_contract._tcp.marathon.mesos'
  await dns.setRecords({
    srv: addresses.map((address, i) => ({ name, target: `contract-t${i}-s1.marathon.mesos`, port: address.port })),
    hosts: addresses.map((address, i) => ({ name: `contract-t${i}-s1.marathon.mesos`, addresses: [address.host] })),
  })
  return new DnsSrvResolver({ name, servers: [dns.server], timeoutMs: 1000, minCacheSeconds: 1, maxCacheSeconds: 5 })
})
