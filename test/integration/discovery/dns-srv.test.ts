import { createSocket, type Socket } from 'node:dgram'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DnsSrvResolver, type DnsSrvOptions } from '../../../src/discovery/dns-srv.js'
import { formatAddress, type Resolution } from '../../../src/discovery/types.js'
import { mesosRecords, mesosTaskHost, startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js'
import { stopAll } from '../../helpers/processes.js'

const BLUE = '_blue-zdd._tcp.marathon.mesos'

let dns: Dnsmasq
const sockets: Socket[] = []
const resolvers: DnsSrvResolver[] = []

beforeAll(async () => {
  dns = await startDnsmasq()
})
afterAll(async () => {
  for (const resolver of resolvers) resolver.close()
  for (const socket of sockets) socket.close()
  await dns?.stop()
  await stopAll()
})

function resolver(options: Partial<DnsSrvOptions> = {}): DnsSrvResolver {
  const made = new DnsSrvResolver({
    name: BLUE,
    servers: [dns.server],
    timeoutMs: 500,
    tries: 1,
    minCacheSeconds: 1,
    maxCacheSeconds: 30,
    ...options,
  })
  resolvers.push(made)
  return made
}

const keysOf = (resolution: Resolution) => (resolution.kind === 'ok' ? resolution.addresses.map(formatAddress) : resolution.kind)

/** A UDP socket on 127.0.0.1 that answers every query with `rcode`, or never when rcode is undefined. */
async function fakeServer(rcode?: number): Promise<string> {
  const socket = createSocket('udp4')
  sockets.push(socket)
  socket.on('message', (query, peer) => {
    if (rcode === undefined || query.length < 12) return
    let end = 12
    while (end < query.length && query[end] !== 0) end += query[end]! + 1
    const question = query.subarray(12, end + 5)
    const header = Buffer.alloc(12)
    query.copy(header, 0, 0, 2)
    header[2] = 0x80 | (query[2]! & 0x79) // QR, opcode and RD from the query.
    header[3] = 0x80 | rcode // RA, rcode.
    header.writeUInt16BE(1, 4)
    socket.send(Buffer.concat([header, question]), peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  return `127.0.0.1:${socket.address().port}`
}

/** A port with nothing listening (UDP sends to it get ICMP port unreachable). */
async function closedPort(): Promise<string> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  const port = socket.address().port
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return `127.0.0.1:${port}`
}

describe('DnsSrvResolver against dnsmasq', () => {
  it('follows Mesos-DNS names: SRV → task host name → address, through the same server', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }, { port: 31006, address: '127.0.0.2' }], 'green-zdd': [{ port: 31007 }] }, 7))
    const resolution = await resolver().resolve()
    expect(resolution).toEqual({
      kind: 'ok',
      addresses: [{ host: '127.0.0.1', port: 31005 }, { host: '127.0.0.2', port: 31006 }],
      ttlSeconds: 7,
    })
    expect(keysOf(await resolver({ name: '_green-zdd._tcp.marathon.mesos' }).resolve())).toEqual(['127.0.0.1:31007'])
  })

  it('uses AAAA records and IP literal targets', async () => {
    await dns.setRecords({
      srv: [
        { name: BLUE, target: 'blue-zdd-v6-s1.marathon.mesos', port: 31001 },
        { name: BLUE, target: '127.0.0.3', port: 31002 },
      ],
      hosts: [{ name: 'blue-zdd-v6-s1.marathon.mesos', addresses: ['::1'] }],
    })
    const resolution = await resolver().resolve()
    expect(keysOf(resolution)).toEqual(['127.0.0.3:31002', '[::1]:31001'])
    expect(resolution.kind === 'ok' && resolution.ttlSeconds).toBe(0)
  })

  it('reports no TTL when every target is an IP literal', async () => {
    await dns.setRecords({ srv: [{ name: BLUE, target: '127.0.0.1', port: 31001 }] })
    expect(await resolver().resolve()).toEqual({ kind: 'ok', addresses: [{ host: '127.0.0.1', port: 31001 }] })
  })

  it('falls through a dead first server (closed port) to the second', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    expect(keysOf(await resolver({ servers: [await closedPort(), dns.server] }).resolve())).toEqual(['127.0.0.1:31005'])
  })

  it('falls through a silent first server (timeout) to the second', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const servers = [await fakeServer(), dns.server]
    expect(keysOf(await resolver({ servers, timeoutMs: 200 }).resolve())).toEqual(['127.0.0.1:31005'])
  })

  it('maps an unknown name (NXDOMAIN) and a name without SRV records (NODATA) to empty', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }))
    const unknown = await resolver({ name: '_nope._tcp.marathon.mesos' }).resolve()
    expect(unknown).toMatchObject({ kind: 'empty', reason: expect.stringContaining('ENOTFOUND') })
    const noSrv = await resolver({ name: mesosTaskHost('blue-zdd', 31005) }).resolve()
    expect(noSrv).toMatchObject({ kind: 'empty', reason: expect.stringContaining('ENODATA') })
  })

  it('maps REFUSED (a name outside dnsmasq local domain) to error', async () => {
    const refused = await resolver({ name: '_blue._tcp.example.org' }).resolve()
    expect(refused).toMatchObject({ kind: 'error', reason: expect.stringContaining('EREFUSED') })
  })

  it('maps SERVFAIL to error', async () => {
    const resolution = await resolver({ servers: [await fakeServer(2)] }).resolve()
    expect(resolution).toMatchObject({ kind: 'error', reason: expect.stringContaining('ESERVFAIL') })
  })

  it('maps a timeout to error', async () => {
    const resolution = await resolver({ servers: [await fakeServer()], timeoutMs: 100 }).resolve()
    expect(resolution).toMatchObject({ kind: 'error', reason: expect.stringContaining('ETIMEOUT') })
  })

  it('maps a server that is down (connection refused) to error', async () => {
    const resolution = await resolver({ servers: [await closedPort()] }).resolve()
    expect(resolution).toMatchObject({ kind: 'error', reason: expect.stringContaining('ECONNREFUSED') })
  })

  it('skips targets without addresses; all of them empty is empty, all failing is error', async () => {
    await dns.setRecords({
      srv: [
        { name: BLUE, target: 'blue-zdd-ok-s1.marathon.mesos', port: 31001 },
        { name: BLUE, target: 'blue-zdd-gone-s2.marathon.mesos', port: 31002 },
        { name: BLUE, target: 'blue-zdd.elsewhere.example', port: 31003 },
        { name: '_empty._tcp.marathon.mesos', target: 'gone-s1.marathon.mesos', port: 31004 },
        { name: '_failing._tcp.marathon.mesos', target: 'a.elsewhere.example', port: 31005 },
        { name: '_failing._tcp.marathon.mesos', target: 'b.elsewhere.example', port: 31006 },
      ],
      hosts: [{ name: 'blue-zdd-ok-s1.marathon.mesos', addresses: ['127.0.0.1'] }],
    })
    expect(keysOf(await resolver().resolve())).toEqual(['127.0.0.1:31001'])
    expect(await resolver({ name: '_empty._tcp.marathon.mesos' }).resolve()).toMatchObject({ kind: 'empty' })
    expect(await resolver({ name: '_failing._tcp.marathon.mesos' }).resolve()).toMatchObject({
      kind: 'error',
      reason: expect.stringContaining('EREFUSED'),
    })
  })

  it('caches addresses for their TTL while SRV answers stay fresh', async () => {
    await dns.setRecords(mesosRecords({ 'blue-zdd': [{ port: 31005 }] }, 30))
    const cached = resolver()
    expect(keysOf(await cached.resolve())).toEqual(['127.0.0.1:31005'])
    // Same target name, new address and new port: the port comes from the new SRV answer, the
    // address from the cache (30 s TTL) until it expires.
    await dns.setRecords({
      srv: [{ name: BLUE, target: mesosTaskHost('blue-zdd', 31005), port: 31006 }],
      hosts: [{ name: mesosTaskHost('blue-zdd', 31005), addresses: ['127.0.0.2'] }],
    })
    expect(keysOf(await cached.resolve())).toEqual(['127.0.0.1:31006'])
    expect(keysOf(await resolver().resolve())).toEqual(['127.0.0.2:31006'])
  })

  it('close() ends a lookup in flight as an error, and later lookups too, without throwing', async () => {
    const slow = resolver({ servers: [await fakeServer()], timeoutMs: 30_000 })
    const pending = slow.resolve()
    await new Promise((resolve) => setTimeout(resolve, 50))
    slow.close()
    expect(await pending).toMatchObject({ kind: 'error' })
    expect(await slow.resolve()).toEqual({ kind: 'error', reason: 'resolver closed' })
  })
})
