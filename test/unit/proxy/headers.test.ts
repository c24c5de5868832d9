import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { buildResponseHeaders, buildUpstreamHeaders, buildUpstreamHeadersFromH2, connectionTokens, readCookie, removeCookie } from '../../../src/proxy/headers.js'

/**
 * The part of an IncomingMessage that buildUpstreamHeaders reads. `headers.connection` is derived
 * from the raw headers as Node does: every Connection header's value, joined with ", ".
 */
function request(rawHeaders: string[]): IncomingMessage {
  const connection: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') connection.push(rawHeaders[i + 1]!)
  }
  const headers = connection.length > 0 ? { connection: connection.join(', ') } : {}
  return { rawHeaders, headers } as unknown as IncomingMessage
}

/** A flat [name, value, …] list as [name, value] pairs; fails on an odd length. */
function pairs(list: readonly string[] | undefined): [string, string][] {
  expect(list, 'a header list').toBeDefined()
  expect(list!.length % 2, 'an even number of entries').toBe(0)
  const out: [string, string][] = []
  for (let i = 0; i < list!.length; i += 2) out.push([list![i]!, list![i + 1]!])
  return out
}

/** The request id the tests hand buildUpstreamHeaders. */
const RID = 'req-1'

/** The pairs buildUpstreamHeaders appends: three X-Forwarded-* and the request id. */
const forwarded = (xff: string, proto: string, host: string): [string, string][] => [
  ['x-forwarded-for', xff],
  ['x-forwarded-proto', proto],
  ['x-forwarded-host', host],
  ['x-request-id', RID],
]

const PEER = '192.0.2.7'

describe('connectionTokens', () => {
  it.each<{ desc: string; connection: string | undefined }>([
    { desc: 'no header', connection: undefined },
    { desc: 'keep-alive', connection: 'keep-alive' },
    { desc: 'Keep-Alive', connection: 'Keep-Alive' },
    { desc: 'close', connection: 'close' },
    { desc: 'CLOSE', connection: 'CLOSE' },
    { desc: 'close and keep-alive', connection: 'close, Keep-Alive' },
    { desc: 'only empty tokens', connection: ' , ,' },
    { desc: 'an empty value', connection: '' },
  ])('is undefined for $desc', ({ connection }) => {
    expect(connectionTokens(connection)).toBeUndefined()
  })

  it.each<{ connection: string; tokens: string[] }>([
    { connection: 'X-Foo', tokens: ['x-foo'] },
    { connection: 'Upgrade', tokens: ['upgrade'] },
    { connection: 'Keep-Alive, X-Foo', tokens: ['x-foo'] },
    { connection: 'x-foo,X-BAR', tokens: ['x-foo', 'x-bar'] },
    { connection: ' x-foo ,  X-Bar ,, close,', tokens: ['x-foo', 'x-bar'] },
  ])('lists the lower-cased header names in "$connection"', ({ connection, tokens }) => {
    expect(connectionTokens(connection)).toEqual(tokens)
  })
})

describe('buildUpstreamHeaders', () => {
  it.each<{ name: string; value: string }>([
    { name: 'Connection', value: 'keep-alive' },
    { name: 'Keep-Alive', value: 'timeout=5' },
    { name: 'Proxy-Connection', value: 'keep-alive' },
    { name: 'Proxy-Authorization', value: 'Basic dXNlcjpwdw==' },
    { name: 'TE', value: 'trailers' },
    { name: 'Trailer', value: 'X-Checksum' },
    { name: 'Transfer-Encoding', value: 'chunked' },
    { name: 'Upgrade', value: 'websocket' },
    { name: 'Expect', value: '100-continue' },
    { name: 'HTTP2-Settings', value: 'AAMAAABkAAQCAAAAAAIAAAAA' },
  ])('drops the hop-by-hop header $name in any case', ({ name, value }) => {
    for (const spelled of [name, name.toLowerCase(), name.toUpperCase()]) {
      const out = buildUpstreamHeaders(request(['Host', 'a.example', spelled, value, 'Accept', '*/*']), PEER, false, RID, 'http')
      expect(pairs(out), spelled).toEqual([['Host', 'a.example'], ['Accept', '*/*'], ...forwarded(PEER, 'http', 'a.example')])
    }
  })

  it.each<{ desc: string; connection: string[]; kept: string[] }>([
    { desc: 'one named header', connection: ['X-Foo'], kept: ['X-Bar', 'X-Baz'] },
    { desc: 'names in another case', connection: ['X-FOO, x-bar'], kept: ['X-Baz'] },
    { desc: 'several tokens, close ignored', connection: ['close, X-Foo,x-baz'], kept: ['X-Bar'] },
    { desc: 'keep-alive ignored', connection: ['Keep-Alive, x-bar'], kept: ['X-Foo', 'X-Baz'] },
    { desc: 'two Connection headers', connection: ['close', 'X-Foo, X-Baz'], kept: ['X-Bar'] },
    { desc: 'only close', connection: ['close'], kept: ['X-Foo', 'X-Bar', 'X-Baz'] },
    { desc: 'only keep-alive', connection: ['keep-alive'], kept: ['X-Foo', 'X-Bar', 'X-Baz'] },
    { desc: 'a name no header has', connection: ['X-Other'], kept: ['X-Foo', 'X-Bar', 'X-Baz'] },
  ])('drops the headers named in Connection: $desc', ({ connection, kept }) => {
    const raw = ['Host', 'a.example', 'X-Foo', '1', 'X-Bar', '2', 'X-Baz', '3']
    for (const value of connection) raw.push('Connection', value)
    const out = pairs(buildUpstreamHeaders(request(raw), PEER, false, RID, 'http'))
    expect(out.map(([name]) => name)).toEqual(['Host', ...kept, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'])
  })

  it('passes Host and every other header through in order, with the names as the client spelled them', () => {
    const raw = ['hOsT', 'A.Example:8080', 'X-Trace', 'abc', 'accept', 'text/html', 'Accept', 'application/json', 'Cookie', 'a=1']
    const out = pairs(buildUpstreamHeaders(request(raw), PEER, false, RID, 'http'))
    expect(out).toEqual([
      ['hOsT', 'A.Example:8080'],
      ['X-Trace', 'abc'],
      ['accept', 'text/html'],
      ['Accept', 'application/json'],
      ['Cookie', 'a=1'],
      ...forwarded(PEER, 'http', 'A.Example:8080'),
    ])
  })

  it.each<{ desc: string; raw: string[]; trusted: boolean }>([
    { desc: 'two Host headers', raw: ['Host', 'a.example', 'Host', 'b.example'], trusted: false },
    { desc: 'the same Host twice', raw: ['Host', 'a.example', 'Accept', '*/*', 'Host', 'a.example'], trusted: false },
    { desc: 'Host in two spellings', raw: ['host', 'a.example', 'HOST', 'b.example'], trusted: false },
    { desc: 'two Host headers from a trusted peer', raw: ['Host', 'a.example', 'Host', 'b.example'], trusted: true },
  ])('refuses $desc (undefined)', ({ raw, trusted }) => {
    expect(buildUpstreamHeaders(request(raw), PEER, trusted, RID, 'http')).toBeUndefined()
  })

  const incoming = [
    'Host', 'a.example',
    'X-Forwarded-For', '203.0.113.1, 198.51.100.2',
    'x-forwarded-proto', 'https',
    'X-FORWARDED-HOST', 'public.example',
    'X-Forwarded-For', '198.51.100.3',
    'X-Forwarded-Proto', 'http',
    'X-Forwarded-Host', 'second.example',
    'Accept', '*/*',
  ]

  it('overwrites X-Forwarded-For/-Proto/-Host from an untrusted peer', () => {
    const out = pairs(buildUpstreamHeaders(request(incoming), PEER, false, RID, 'http'))
    expect(out).toEqual([['Host', 'a.example'], ['Accept', '*/*'], ...forwarded(PEER, 'http', 'a.example')])
  })

  it('extends them for a trusted peer: all X-Forwarded-For joined then the peer, the first proto and host', () => {
    const out = pairs(buildUpstreamHeaders(request(incoming), PEER, true, RID, 'http'))
    expect(out).toEqual([
      ['Host', 'a.example'],
      ['Accept', '*/*'],
      ...forwarded(`203.0.113.1, 198.51.100.2, 198.51.100.3, ${PEER}`, 'https', 'public.example'),
    ])
  })

  it.each<{ desc: string; raw: string[]; expected: [string, string][] }>([
    {
      desc: 'no incoming X-Forwarded-*',
      raw: ['Host', 'a.example'],
      expected: forwarded(PEER, 'http', 'a.example'),
    },
    {
      desc: 'only X-Forwarded-For',
      raw: ['Host', 'a.example', 'X-Forwarded-For', '203.0.113.1'],
      expected: forwarded(`203.0.113.1, ${PEER}`, 'http', 'a.example'),
    },
    {
      desc: 'only X-Forwarded-Proto',
      raw: ['Host', 'a.example', 'X-Forwarded-Proto', 'https'],
      expected: forwarded(PEER, 'https', 'a.example'),
    },
    {
      desc: 'only X-Forwarded-Host',
      raw: ['Host', 'a.example', 'X-Forwarded-Host', 'public.example'],
      expected: forwarded(PEER, 'http', 'public.example'),
    },
  ])('from a trusted peer with $desc, falls back to the peer, http and Host', ({ raw, expected }) => {
    expect(pairs(buildUpstreamHeaders(request(raw), PEER, true, RID, 'http'))).toEqual([['Host', 'a.example'], ...expected])
  })

  it('puts the peer address into X-Forwarded-For as given (IPv6)', () => {
    const out = pairs(buildUpstreamHeaders(request(['Host', 'a.example', 'X-Forwarded-For', '203.0.113.1']), '2001:db8::1', true, RID, 'http'))
    expect(out.at(-4)).toEqual(['x-forwarded-for', '203.0.113.1, 2001:db8::1'])
  })

  it('returns a flat list of strings with exactly one of each X-Forwarded-* and the request id, appended last', () => {
    const raw = ['X-Forwarded-Host', 'x', 'Host', 'a.example', 'X-Forwarded-For', 'y', 'Accept', '*/*', 'X-Forwarded-Proto', 'https']
    for (const trusted of [false, true]) {
      const out = buildUpstreamHeaders(request(raw), PEER, trusted, RID, 'http')!
      expect(out.every((entry) => typeof entry === 'string'), 'all strings').toBe(true)
      expect(out.length, 'Host, Accept, three X-Forwarded-* and the request id').toBe(12)
      const names = pairs(out).map(([name]) => name)
      expect(names).toEqual(['Host', 'Accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'])
    }
  })

  it.each<{ desc: string; raw: string[]; trusted: boolean; kept: string[] }>([
    { desc: 'Forwarded and X-Real-IP from an untrusted peer are dropped', raw: ['Forwarded', 'for=6.6.6.6;proto=https', 'X-Real-IP', '6.6.6.6'], trusted: false, kept: [] },
    { desc: 'Forwarded and X-Real-IP from a trusted proxy pass', raw: ['Forwarded', 'for=6.6.6.6', 'X-Real-IP', '6.6.6.6'], trusted: true, kept: ['Forwarded', 'X-Real-IP'] },
    { desc: 'a client X-Request-Id is replaced (the caller passes the trusted one on)', raw: ['X-Request-Id', 'mine'], trusted: true, kept: [] },
    { desc: 'names with an underscore are dropped (a backend may fold them into dashes)', raw: ['Transfer_Encoding', 'chunked', 'X_Forwarded_For', '6.6.6.6', 'X-Ok', '1'], trusted: false, kept: ['X-Ok'] },
  ])('$desc', ({ raw, trusted, kept }) => {
    const out = pairs(buildUpstreamHeaders(request(['Host', 'a.example', ...raw]), PEER, trusted, RID, 'http'))
    expect(out.map(([name]) => name).slice(1, -4)).toEqual(kept)
    expect(out.at(-1)).toEqual(['x-request-id', RID])
  })

  it('leaves X-Forwarded-Host out when the request has no Host (HTTP/1.0)', () => {
    const out = pairs(buildUpstreamHeaders(request(['Accept', '*/*']), PEER, false, RID, 'http'))
    expect(out.map(([name]) => name)).toEqual(['Accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id'])
  })

  it('does not change the request', () => {
    const raw = ['Host', 'a.example', 'Connection', 'X-Foo', 'X-Foo', '1', 'X-Forwarded-For', '203.0.113.1']
    const req = request(raw)
    buildUpstreamHeaders(req, PEER, true, RID, 'http')
    expect(req.rawHeaders).toEqual(['Host', 'a.example', 'Connection', 'X-Foo', 'X-Foo', '1', 'X-Forwarded-For', '203.0.113.1'])
  })
})

describe('buildResponseHeaders', () => {
  it.each(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade'])(
    'drops the hop-by-hop response header %s',
    (name) => {
      const headers: IncomingHttpHeaders = { 'content-type': 'text/plain', [name]: 'x', 'x-kept': '1' }
      expect(pairs(buildResponseHeaders(headers, undefined))).toEqual([
        ['content-type', 'text/plain'],
        ['x-kept', '1'],
      ])
    },
  )

  it.each<{ desc: string; connection: string; kept: string[] }>([
    { desc: 'one named header', connection: 'X-Foo', kept: ['x-bar', 'x-baz'] },
    { desc: 'several, any case, close ignored', connection: 'close, X-FOO,x-Baz', kept: ['x-bar'] },
    { desc: 'keep-alive ignored', connection: 'keep-alive, x-bar', kept: ['x-foo', 'x-baz'] },
    { desc: 'only close', connection: 'close', kept: ['x-foo', 'x-bar', 'x-baz'] },
  ])('drops the headers named in Connection: $desc', ({ connection, kept }) => {
    const headers: IncomingHttpHeaders = { connection, 'x-foo': '1', 'x-bar': '2', 'x-baz': '3' }
    const out = pairs(buildResponseHeaders(headers, undefined))
    expect(out.map(([name]) => name)).toEqual(kept)
  })

  // Bug: undici gives a repeated response header as an array (two `Connection:` lines from the
  // upstream arrive as ['keep-alive', 'X-Foo']), but buildResponseHeaders casts headers.connection
  // to a string and connectionTokens calls .toLowerCase() on it, so this throws a TypeError.
  it('handles a Connection header repeated by the upstream (undici gives an array)', () => {
    const headers = { connection: ['keep-alive', 'X-Foo'], 'x-foo': '1', 'x-bar': '2' } as unknown as IncomingHttpHeaders
    expect(pairs(buildResponseHeaders(headers, undefined))).toEqual([['x-bar', '2']])
  })

  it('keeps each value of an array header (Set-Cookie) as its own pair, in order', () => {
    const headers: IncomingHttpHeaders = {
      'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly', 'c=3'],
      'content-length': '2',
    }
    expect(pairs(buildResponseHeaders(headers, undefined))).toEqual([
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2; HttpOnly'],
      ['set-cookie', 'c=3'],
      ['content-length', '2'],
    ])
  })

  it('skips undefined values and keeps empty strings', () => {
    const headers: IncomingHttpHeaders = { 'x-none': undefined, 'x-empty': '', 'x-one': '1' }
    expect(pairs(buildResponseHeaders(headers, undefined))).toEqual([
      ['x-empty', ''],
      ['x-one', '1'],
    ])
  })

  it('appends `extra` as is after the upstream headers, without filtering it', () => {
    const headers: IncomingHttpHeaders = { 'set-cookie': ['a=1'], 'content-type': 'text/html', connection: 'x-zdd-group' }
    const extra = ['set-cookie', 'zdd_client=abc; Path=/', 'x-zdd-group', 'canary', 'Connection', 'close']
    const out = buildResponseHeaders(headers, extra)
    expect(out).toEqual(['set-cookie', 'a=1', 'content-type', 'text/html', ...extra])
    expect(extra, 'extra unchanged').toEqual(['set-cookie', 'zdd_client=abc; Path=/', 'x-zdd-group', 'canary', 'Connection', 'close'])
  })

  it.each<{ desc: string; extra: string[] | undefined }>([
    { desc: 'undefined', extra: undefined },
    { desc: 'empty', extra: [] },
  ])('adds nothing when `extra` is $desc', ({ extra }) => {
    expect(buildResponseHeaders({ 'x-one': '1' }, extra)).toEqual(['x-one', '1'])
  })

  it('gives an empty list for no headers', () => {
    expect(buildResponseHeaders({}, undefined)).toEqual([])
  })
})

describe('readCookie', () => {
  const PREFIX = 'zdd_client='

  it.each<{ desc: string; header: string | undefined; value: string | undefined }>([
    { desc: 'the only cookie', header: 'zdd_client=abc', value: 'abc' },
    { desc: 'the first of several', header: 'zdd_client=abc; a=1', value: 'abc' },
    { desc: 'in the middle', header: 'a=1; zdd_client=abc; b=2', value: 'abc' },
    { desc: 'the last, without a trailing semicolon', header: 'a=1; zdd_client=abc', value: 'abc' },
    { desc: 'the last, with a trailing semicolon', header: 'a=1; zdd_client=abc;', value: 'abc' },
    { desc: 'after ";" without a space', header: 'a=1;zdd_client=abc;b=2', value: 'abc' },
    { desc: 'twice: the first wins', header: 'zdd_client=first; zdd_client=second', value: 'first' },
    { desc: 'after a cookie whose name ends in it', header: 'xzdd_client=evil; zdd_client=good', value: 'good' },
    { desc: 'after a cookie whose value holds it', header: 'a=zdd_client=evil; zdd_client=good', value: 'good' },
    { desc: 'with spaces around the value', header: 'zdd_client=  abc ; b=1', value: 'abc' },
    { desc: 'with an "=" in the value', header: 'zdd_client=a=b; c=d', value: 'a=b' },
    { desc: 'with an empty value before another cookie', header: 'zdd_client=; b=1', value: '' },
    { desc: 'with an empty value at the end', header: 'a=1; zdd_client=', value: '' },
    { desc: 'only inside another name', header: 'xzdd_client=evil', value: undefined },
    { desc: 'only inside another name, after a boundary', header: 'a=1; my_zdd_client=evil', value: undefined },
    { desc: 'only inside another value', header: 'a=zdd_client=evil', value: undefined },
    { desc: 'in another case', header: 'ZDD_CLIENT=abc', value: undefined },
    { desc: 'without "="', header: 'zdd_client; a=1', value: undefined },
    { desc: 'absent', header: 'a=1; b=2', value: undefined },
    { desc: 'in an empty header', header: '', value: undefined },
    { desc: 'with no header', header: undefined, value: undefined },
  ])('reads a cookie $desc', ({ header, value }) => {
    expect(readCookie(header, PREFIX)).toBe(value)
  })

  it('reads the cookie named by the prefix, not another one', () => {
    const header = 'zdd_client=abc; zdd_override=canary'
    expect(readCookie(header, 'zdd_override=')).toBe('canary')
    expect(readCookie(header, 'zdd_client=')).toBe('abc')
    expect(readCookie(header, 'zdd=')).toBeUndefined()
  })
})

describe('removeCookie', () => {
  const strip = (headers: string[]) => {
    const copy = [...headers]
    removeCookie(copy, 'zdd_group=')
    return copy
  }

  it('removes only the named cookie, from every Cookie header, keeping the others in order', () => {
    expect(strip(['Host', 'h', 'Cookie', 'a=1; zdd_group=b:secret; c=3', 'cookie', 'zdd_group=x:y;d=4'])).toEqual([
      'Host',
      'h',
      'Cookie',
      'a=1; c=3',
      'cookie',
      'd=4',
    ])
  })

  it('drops a Cookie header left empty, and leaves look-alike names alone', () => {
    expect(strip(['cookie', 'zdd_group=b:secret', 'x', '1'])).toEqual(['x', '1'])
    expect(strip(['cookie', 'xzdd_group=b; zdd_groupx=c'])).toEqual(['cookie', 'xzdd_group=b; zdd_groupx=c'])
  })
})

describe('buildUpstreamHeadersFromH2', () => {
  /** An HTTP/2 request as node:http2's compatibility API shows it: pseudo-headers in the raw list, Host set by the listener. */
  function h2request(rawHeaders: string[], host: string | undefined): IncomingMessage {
    return { rawHeaders, headers: host === undefined ? {} : { host } } as unknown as IncomingMessage
  }

  it('drops pseudo-headers, takes Host from :authority and joins split cookies into one header', () => {
    const raw = [':method', 'GET', ':path', '/a', ':scheme', 'https', ':authority', 'a.example', 'cookie', 'x=1', 'accept', '*/*', 'cookie', 'y=2']
    expect(pairs(buildUpstreamHeadersFromH2(h2request(raw, 'a.example'), PEER, false, RID, 'https'))).toEqual([
      ['host', 'a.example'],
      ['accept', '*/*'],
      ['cookie', 'x=1; y=2'],
      ...forwarded(PEER, 'https', 'a.example'),
    ])
  })

  it('replaces what an untrusted client says about itself, and keeps it from a trusted proxy', () => {
    const raw = [':authority', 'a.example', 'x-forwarded-for', '6.6.6.6', 'x-forwarded-proto', 'http', 'x-real-ip', '6.6.6.6', 'x_forwarded_for', '1.1.1.1']
    expect(pairs(buildUpstreamHeadersFromH2(h2request(raw, 'a.example'), PEER, false, RID, 'https'))).toEqual([['host', 'a.example'], ...forwarded(PEER, 'https', 'a.example')])
    expect(pairs(buildUpstreamHeadersFromH2(h2request(raw, 'a.example'), PEER, true, RID, 'https'))).toEqual([
      ['host', 'a.example'],
      ['x-real-ip', '6.6.6.6'],
      ...forwarded(`6.6.6.6, ${PEER}`, 'http', 'a.example'),
    ])
  })

  it('sends no Host when the request named no authority', () => {
    const out = pairs(buildUpstreamHeadersFromH2(h2request([':method', 'GET', ':path', '/'], undefined), PEER, false, RID, 'http'))
    expect(out.map(([name]) => name)).toEqual(['x-forwarded-for', 'x-forwarded-proto', 'x-request-id'])
  })
})
