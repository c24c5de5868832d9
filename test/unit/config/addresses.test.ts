import { describe, expect, it } from 'vitest'
import { checkAddressOrCidr, checkInstanceAddress, isHostName, isLoopbackHost, normaliseDnsServer } from '../../../src/config/addresses.js'

describe('addresses', () => {
  const loopback: { desc: string; input: string; expected: boolean }[] = [
    { desc: 'localhost', input: 'localhost', expected: true },
    { desc: '127.0.0.1', input: '127.0.0.1', expected: true },
    { desc: 'anywhere in 127/8', input: '127.1.2.3', expected: true },
    { desc: '::1', input: '::1', expected: true },
    { desc: 'IPv4-mapped loopback', input: '::ffff:127.0.0.1', expected: true },
    { desc: 'wildcard v4', input: '0.0.0.0', expected: false },
    { desc: 'wildcard v6', input: '::', expected: false },
    { desc: 'private address', input: '10.0.0.1', expected: false },
    { desc: 'a name', input: 'my-host', expected: false },
  ]
  for (const { desc, input, expected } of loopback) it(`isLoopbackHost: ${desc}`, () => expect(isLoopbackHost(input)).toBe(expected))

  const backends: { input: string; expected: string | undefined }[] = [
    { input: '127.0.0.1:9001', expected: undefined },
    { input: 'backend-1.example.com:80', expected: undefined },
    { input: '[::1]:9000', expected: undefined },
    { input: '[::1]', expected: 'must be host:port (IPv6 as [addr]:port)' },
    { input: '[::1:9000', expected: 'missing "]" after the IPv6 address' },
    { input: '[::1]9000', expected: 'expected ":port" after "]"' },
    { input: 'h:', expected: 'port "" is not a number' },
    { input: 'h:http', expected: 'port "http" is not a number' },
    { input: 'bad_host!:80', expected: '"bad_host!" is not a host name or IP address' },
    { input: ':80', expected: '"" is not a host name or IP address' },
  ]
  for (const { input, expected } of backends) it(`checkInstanceAddress ${input}`, () => expect(checkInstanceAddress(input)).toBe(expected))

  it('isHostName', () => {
    expect(isHostName('_simpleservice-09._tcp.marathon.mesos')).toBe(true)
    expect(isHostName('example.com.')).toBe(true)
    expect(isHostName('-bad.example')).toBe(false)
    expect(isHostName('a'.repeat(64))).toBe(false)
    expect(isHostName('')).toBe(false)
  })

  it('normaliseDnsServer', () => {
    expect(normaliseDnsServer('1.1.1.1')).toBe('1.1.1.1:53')
    expect(normaliseDnsServer('[2001:db8::1]')).toBe('[2001:db8::1]:53')
    expect(normaliseDnsServer('2001:db8::1')).toBe('[2001:db8::1]:53')
    expect(normaliseDnsServer('1.1.1.1:0')).toEqual({ problem: 'port 0 is out of range 1..65535' })
  })

  it('checkAddressOrCidr', () => {
    expect(checkAddressOrCidr('0.0.0.0/0')).toBeUndefined()
    expect(checkAddressOrCidr('fd00::/128')).toBeUndefined()
    expect(checkAddressOrCidr('fd00::/129')).toBe('prefix length "129" must be an integer 0..128')
    expect(checkAddressOrCidr('10.0.0.0/')).toBe('prefix length "" must be an integer 0..32')
    expect(checkAddressOrCidr('10.0.0/8')).toBe('"10.0.0" is not an IP address')
  })
})
