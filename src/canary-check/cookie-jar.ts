import type { StoredCookie } from './types.js'

/** RFC 7230 token: what a cookie name may be. */
export const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** Printable ASCII without `;`: a value that can be sent back in a Cookie header as it is. */
export const COOKIE_VALUE = /^[\x20-\x3a\x3c-\x7e]*$/

/**
 * One client's cookies, as little of RFC 6265 as a canary check needs: one origin and one path, so
 * Domain and Path are ignored; Max-Age (which wins) and Expires delete or expire a cookie.
 */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>()

  constructor(cookies: readonly StoredCookie[] = []) {
    for (const cookie of cookies) this.#cookies.set(cookie.name, cookie)
  }

  /** Takes the `set-cookie` response header(s) into the jar. */
  store(setCookie: string | readonly string[] | undefined, now: number = Date.now()): void {
    if (setCookie === undefined) return
    const lines = typeof setCookie === 'string' ? [setCookie] : setCookie
    for (const line of lines) this.#storeOne(line, now)
  }

  /** The `cookie` request header, or undefined when the jar holds nothing live. */
  header(now: number = Date.now()): string | undefined {
    let header: string | undefined
    for (const [name, cookie] of this.#cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        this.#cookies.delete(name)
        continue
      }
      const pair = `${name}=${cookie.value}`
      header = header === undefined ? pair : `${header}; ${pair}`
    }
    return header
  }

  /** The live cookies, for storing. */
  cookies(now: number = Date.now()): StoredCookie[] {
    const live: StoredCookie[] = []
    for (const cookie of this.#cookies.values()) {
      if (cookie.expiresAt === undefined || cookie.expiresAt > now) live.push(cookie)
    }
    return live
  }

  #storeOne(line: string, now: number): void {
    const parts = line.split(';')
    const pair = parts[0]!
    const equals = pair.indexOf('=')
    // A pair without "=" is a nameless cookie in RFC 6265; no proxy we talk to sends one.
    if (equals < 0) return
    const name = pair.slice(0, equals).trim()
    const value = pair.slice(equals + 1).trim()
    if (!COOKIE_NAME.test(name) || !COOKIE_VALUE.test(value)) return

    let maxAge: number | undefined
    let expires: number | undefined
    for (let i = 1; i < parts.length; i++) {
      const attribute = parts[i]!
      const eq = attribute.indexOf('=')
      const key = (eq < 0 ? attribute : attribute.slice(0, eq)).trim().toLowerCase()
      const argument = eq < 0 ? '' : attribute.slice(eq + 1).trim()
      if (key === 'max-age' && /^-?\d+$/.test(argument)) maxAge = Number(argument)
      else if (key === 'expires') {
        const parsed = Date.parse(argument)
        if (!Number.isNaN(parsed)) expires = parsed
      }
    }
    const expiresAt = maxAge !== undefined ? now + maxAge * 1000 : expires
    if (expiresAt !== undefined && (expiresAt <= now || (maxAge !== undefined && maxAge <= 0))) {
      this.#cookies.delete(name)
      return
    }
    this.#cookies.set(name, expiresAt === undefined ? { name, value } : { name, value, expiresAt })
  }
}
