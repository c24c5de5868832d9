import { describe, expect, it } from 'vitest'
import { parseAddress, StaticResolver } from '../../../src/discovery/static.js'
import { formatAddress } from '../../../src/discovery/types.js'
import { runResolverContract } from './resolver-contract.js'

runResolverContract('static', async (addresses) => new StaticResolver(addresses.map(formatAddress)))

describe('parseAddress', () => {
  const good = [
    { desc: 'IPv4', value: '127.0.0.1:9001', host: '127.0.0.1', port: 9001 },
    { desc: 'host name', value: 'blue-zdd.marathon.mesos:31005', host: 'blue-zdd.marathon.mesos', port: 31005 },
    { desc: 'IPv6 in brackets', value: '[::1]:8080', host: '::1', port: 8080 },
    { desc: 'highest port', value: 'a:65535', host: 'a', port: 65535 },
  ]
  for (const { desc, value, host, port } of good) {
    it(`parses ${desc}`, () => expect(parseAddress(value)).toEqual({ host, port }))
  }

  const bad = [
    { desc: 'no port', value: '127.0.0.1' },
    { desc: 'port 0', value: '127.0.0.1:0' },
    { desc: 'port too big', value: '127.0.0.1:65536' },
    { desc: 'bare IPv6', value: '::1:8080' },
    { desc: 'name in brackets', value: '[localhost]:80' },
    { desc: 'empty host', value: ':80' },
    { desc: 'not a number', value: 'a:http' },
    { desc: 'spaces', value: 'a b:80' },
  ]
  for (const { desc, value } of bad) {
    it(`rejects ${desc}`, () => expect(() => parseAddress(value)).toThrow(JSON.stringify(value)))
  }
})

describe('StaticResolver', () => {
  it('answers ok with no addresses for an empty list (what was configured, not a failure)', async () => {
    expect(await new StaticResolver([]).resolve()).toEqual({ kind: 'ok', addresses: [] })
  })

  it('rejects a bad entry at construction', () => {
    expect(() => new StaticResolver(['127.0.0.1:9001', 'nope'])).toThrow('"nope"')
  })
})
