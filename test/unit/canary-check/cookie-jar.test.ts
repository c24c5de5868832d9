import { describe, expect, it } from 'vitest'
import { CookieJar } from '../../../src/canary-check/cookie-jar.js'

const NOW = Date.parse('2026-11-01T12:00:00Z')

describe('CookieJar', () => {
  it('sends nothing when empty', () => {
    expect(new CookieJar().header(NOW)).toBeUndefined()
  })

  it('keeps name=value and ignores attributes', () => {
    const jar = new CookieJar()
    jar.store('zdd_client=abc123; Path=/; HttpOnly; SameSite=Lax', NOW)
    expect(jar.header(NOW)).toBe('zdd_client=abc123')
    expect(jar.cookies(NOW)).toEqual([{ name: 'zdd_client', value: 'abc123' }])
  })

  it('takes several Set-Cookie headers and replaces a cookie by name', () => {
    const jar = new CookieJar()
    jar.store(['a=1', 'b=2; Path=/'], NOW)
    jar.store('a=3', NOW)
    expect(jar.header(NOW)).toBe('a=3; b=2')
  })

  it('keeps "=" inside values and trims around the pair', () => {
    const jar = new CookieJar()
    jar.store(' token = x=y== ; Secure', NOW)
    expect(jar.header(NOW)).toBe('token=x=y==')
  })

  it('deletes on Max-Age=0, a negative Max-Age and an Expires in the past', () => {
    const jar = new CookieJar([
      { name: 'a', value: '1' },
      { name: 'b', value: '2' },
      { name: 'c', value: '3' },
      { name: 'd', value: '4' },
    ])
    jar.store(['a=; Max-Age=0', 'b=x; Max-Age=-1', 'c=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT'], NOW)
    expect(jar.header(NOW)).toBe('d=4')
  })

  it('lets Max-Age win over Expires', () => {
    const jar = new CookieJar()
    jar.store('a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60', NOW)
    expect(jar.cookies(NOW)).toEqual([{ name: 'a', value: '1', expiresAt: NOW + 60_000 }])
  })

  it('drops a cookie once it expires', () => {
    const jar = new CookieJar()
    jar.store(['a=1; Max-Age=10', `b=2; Expires=${new Date(NOW + 20_000).toUTCString()}`], NOW)
    expect(jar.header(NOW + 5_000)).toBe('a=1; b=2')
    expect(jar.header(NOW + 10_000)).toBe('b=2')
    expect(jar.header(NOW + 20_000)).toBeUndefined()
  })

  it('ignores an unparseable Expires and malformed pairs', () => {
    const jar = new CookieJar()
    jar.store(['a=1; Expires=soon', 'novalue', '=nameless', 'bad name=1', 'ctl=a\u0001b', 'semi="a"'], NOW)
    expect(jar.header(NOW)).toBe('a=1; semi="a"')
  })

  it('starts from stored cookies', () => {
    const jar = new CookieJar([{ name: 'zdd_client', value: 'k1', expiresAt: NOW + 1 }])
    expect(jar.header(NOW)).toBe('zdd_client=k1')
    expect(jar.header(NOW + 1)).toBeUndefined()
  })
})
