import { describe, expect, it } from 'vitest'
import { formatEntry, isoNow, type AccessEntry } from '../../../src/proxy/access-log.js'

const entry: AccessEntry = {
  time: '2026-12-03T10:00:00.000Z',
  requestId: 'id-"1"\\',
  client: '10.0.0.1',
  method: 'POST',
  path: '/a?b="c"&d=\u0001\u2028é',
  status: 200,
  bytesIn: null,
  bytesOut: 12,
  durationMs: 1.234,
  complete: false,
  service: 'svc',
  group: '1.0',
  instance: '[::1]:9000',
  retries: 1,
  redispatched: true,
  sticky: 'override',
}

describe('access log lines', () => {
  it('are one JSON line holding every field, in order, whatever the client put in path and request id', () => {
    const line = formatEntry(entry)
    expect(line.endsWith('}\n')).toBe(true)
    expect(line.slice(0, -1)).not.toContain('\n')
    const parsed = JSON.parse(line) as AccessEntry
    expect(parsed).toEqual(entry)
    expect(Object.keys(parsed)).toEqual(Object.keys(entry))
  })

  it('timestamps in ISO 8601', () => {
    const time = isoNow()
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Math.abs(Date.parse(time) - Date.now())).toBeLessThan(1000)
  })
})
