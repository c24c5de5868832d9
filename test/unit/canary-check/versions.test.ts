import { describe, expect, it } from 'vitest'
import { describeError, versionFromBody } from '../../../src/canary-check/probe.js'
import { targetUrl } from '../../../src/canary-check/run.js'
import { compareRuns, compareVersions, countByVersion } from '../../../src/canary-check/versions.js'

describe('compareVersions', () => {
  it('orders numeric parts as numbers', () => {
    expect(['1.10', '1.0', '0.9', '1.9', 'green', 'blue'].sort(compareVersions)).toEqual([
      '0.9',
      '1.0',
      '1.9',
      '1.10',
      'blue',
      'green',
    ])
  })
})

describe('countByVersion', () => {
  it('counts clients with a version, keys in version order', () => {
    const counts = countByVersion(['1.0', '0.9', null, '0.9', 'green'])
    expect(Object.entries(counts)).toEqual([
      ['0.9', 2],
      ['1.0', 1],
      ['green', 1],
    ])
    expect(Object.entries(countByVersion(['__proto__']))).toEqual([['__proto__', 1]])
  })
})

describe('compareRuns', () => {
  it('counts moves client by client, skipping clients without a version or not stored', () => {
    const before = [
      { id: 'a', version: '0.9', cookies: [] },
      { id: 'b', version: '0.9', cookies: [] },
      { id: 'c', version: '1.0', cookies: [] },
      { id: 'd', version: null, cookies: [] },
      { id: 'e', version: '0.9', cookies: [] },
    ]
    const after = [
      { id: 'a', version: '1.0', cookies: [] },
      { id: 'b', version: '0.9', cookies: [] },
      { id: 'c', version: '0.9', cookies: [] },
      { id: 'd', version: '1.0', cookies: [] },
      { id: 'e', version: null, cookies: [] },
      { id: 'new', version: '1.0', cookies: [] },
    ]
    expect(compareRuns('f', before, after)).toEqual({
      source: 'f',
      compared: 3,
      versions: ['0.9', '1.0'],
      moved: { '0.9->1.0': 1, '1.0->0.9': 1 },
    })
  })
})

describe('versionFromBody', () => {
  it('reads simpleservice bodies', () => {
    expect(versionFromBody('{"host": "h:1", "version": "0.9", "result": "all is well"}')).toEqual({ version: '0.9' })
    expect(versionFromBody('{"version": 2}')).toEqual({ version: '2' })
  })

  it('turns anything else into an error reason', () => {
    expect(versionFromBody('not json')).toEqual({ error: 'response is not JSON' })
    expect(versionFromBody('{"result": "all is well"}')).toEqual({ error: 'no version in response' })
    expect(versionFromBody('{"version": ""}')).toEqual({ error: 'no version in response' })
    expect(versionFromBody('null')).toEqual({ error: 'no version in response' })
    expect(versionFromBody(undefined)).toEqual({ error: 'response body too large' })
  })
})

describe('describeError', () => {
  it('groups failures by a short stable reason', () => {
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    )
    expect(describeError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe('timeout')
    expect(describeError(new AggregateError([Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })]))).toBe(
      'EHOSTUNREACH',
    )
    expect(describeError(new Error('first line\nsecond'))).toBe('first line')
  })
})

describe('targetUrl', () => {
  it('asks for /endpoint0 when the URL has no path', () => {
    expect(targetUrl('http://127.0.0.1:8080').href).toBe('http://127.0.0.1:8080/endpoint0')
    expect(targetUrl('http://127.0.0.1:8080/').href).toBe('http://127.0.0.1:8080/endpoint0')
  })

  it('keeps a given path and query as they are', () => {
    expect(targetUrl('http://127.0.0.1:8080/info').href).toBe('http://127.0.0.1:8080/info')
    expect(targetUrl('http://127.0.0.1:8080/?x=1').href).toBe('http://127.0.0.1:8080/?x=1')
  })

  it('rejects what is not an http(s) URL as a usage error', () => {
    expect(() => targetUrl('127.0.0.1:8080')).toThrow(/http:\/\/HOST:PORT/)
    expect(() => targetUrl('ftp://127.0.0.1/')).toThrow(/http:\/\/HOST:PORT/)
    expect(() => targetUrl('not a url')).toThrow(/invalid URL not a url/)
  })
})
