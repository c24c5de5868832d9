import { describe, expect, it } from 'vitest'
import {
  accessLogLine,
  drawHealthDelay,
  endpoint0Body,
  envBody,
  HEALTHY_BODY,
  infoBody,
  METHOD_NOT_ALLOWED_PAGE,
  NOT_FOUND_PAGE,
  peerIp,
  requestHost,
} from '../../../src/simpleservice/responses.js'

describe('bodies', () => {
  it('match the original byte for byte', () => {
    expect(endpoint0Body('example.org:8080', '0.9')).toBe(
      '{"host": "example.org:8080", "version": "0.9", "result": "all is well"}',
    )
    expect(infoBody('h', '1.0', '::1')).toBe('{"host": "h", "version": "1.0", "from": "::1"}')
    expect(HEALTHY_BODY).toBe('{"healthy": true}')
    expect(envBody('0.5.0', { B: 'x"y', A: undefined, C: 'é' })).toBe(
      String.raw`{"version": "0.5.0", "env": {"B": "x\"y", "C": "\u00e9"}}`,
    )
  })

  it('use Tornado error pages', () => {
    expect(NOT_FOUND_PAGE).toBe('<html><title>404: Not Found</title><body>404: Not Found</body></html>')
    expect(METHOD_NOT_ALLOWED_PAGE).toBe(
      '<html><title>405: Method Not Allowed</title><body>405: Method Not Allowed</body></html>',
    )
  })
})

describe('drawHealthDelay', () => {
  const cases: { desc: string; min: number; max: number; random: number; expected: number }[] = [
    { desc: 'no range', min: 0, max: 0, random: 0.5, expected: 0 },
    { desc: 'equal bounds', min: 100, max: 100, random: 0.5, expected: 0 },
    { desc: 'lowest draw is min', min: 1000, max: 2000, random: 0, expected: 1000 },
    { desc: 'highest draw is max - 1', min: 1000, max: 2000, random: 0.999999999, expected: 1999 },
    { desc: 'middle draw', min: 0, max: 500, random: 0.5, expected: 250 },
    { desc: 'negative min means no delay', min: -1, max: 10, random: 0.5, expected: 0 },
  ]
  for (const { desc, min, max, random, expected } of cases) {
    it(desc, () => expect(drawHealthDelay(min, max, () => random)).toBe(expected))
  }

  it('draws once per call', () => {
    const draws = [0, 0.5]
    const random = () => draws.shift()!
    expect([drawHealthDelay(10, 20, random), drawHealthDelay(10, 20, random)]).toEqual([10, 15])
  })
})

describe('peerIp', () => {
  it('unmaps IPv4-mapped IPv6 and keeps the rest', () => {
    expect(peerIp('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(peerIp('::FFFF:10.1.2.3')).toBe('10.1.2.3')
    expect(peerIp('127.0.0.1')).toBe('127.0.0.1')
    expect(peerIp('::1')).toBe('::1')
    expect(peerIp('::ffff:abcd')).toBe('::ffff:abcd')
    expect(peerIp(undefined)).toBe('')
  })
})

describe('requestHost', () => {
  it('defaults to 127.0.0.1 like Tornado', () => expect(requestHost(undefined)).toBe('127.0.0.1'))
  it('keeps ASCII as is', () => expect(requestHost('localhost:9876')).toBe('localhost:9876'))
  it('reads UTF-8 bytes that Node decoded as Latin-1', () => {
    expect(requestHost(Buffer.from('café.test', 'utf8').toString('latin1'))).toBe('café.test')
  })
  it('keeps bytes that are not UTF-8', () => expect(requestHost('caf\u00e9')).toBe('caf\u00e9'))
})

describe('accessLogLine', () => {
  it('formats like Tornado under the default logging format', () => {
    expect(accessLogLine(200, 'GET', '/endpoint0?x=1', '127.0.0.1', 0.5234)).toBe(
      'INFO:tornado.access:200 GET /endpoint0?x=1 (127.0.0.1) 0.52ms\n',
    )
    expect(accessLogLine(404, 'GET', '/nope', '::1', 12)).toBe('WARNING:tornado.access:404 GET /nope (::1) 12.00ms\n')
    expect(accessLogLine(500, 'GET', '/endpoint0', '127.0.0.1', 1.005)).toMatch(/^ERROR:tornado\.access:500 /)
  })
})
