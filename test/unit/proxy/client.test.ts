import type { IncomingMessage } from 'node:http'
import { BlockList, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { answerClientError, clientAddressOf, isTrusted, peerAddressOf, toOriginForm, trustList, validHost } from '../../../src/proxy/client.js'

describe('trustList', () => {
  it('is undefined when no proxies are trusted', () => {
    expect(trustList([])).toBeUndefined()
  })

  it('adds addresses and subnets with the right IP version', () => {
    const list = trustList(['10.0.0.5', '10.0.0.0/8', '::1', 'fd00::/8'])
    expect(list).toBeInstanceOf(BlockList)
    expect([...list!.rules].sort()).toEqual(
      ['Address: IPv4 10.0.0.5', 'Subnet: IPv4 10.0.0.0/8', 'Address: IPv6 ::1', 'Subnet: IPv6 fd00::/8'].sort(),
    )
  })
})

describe('isTrusted', () => {
  it.each<{ desc: string; entries: string[]; peer: string; trusted: boolean }>([
    { desc: 'the one trusted IPv4 address', entries: ['10.0.0.5'], peer: '10.0.0.5', trusted: true },
    { desc: 'the next IPv4 address', entries: ['10.0.0.5'], peer: '10.0.0.6', trusted: false },
    { desc: 'an address inside a /8', entries: ['10.0.0.0/8'], peer: '10.255.1.2', trusted: true },
    { desc: 'an address outside a /8', entries: ['10.0.0.0/8'], peer: '11.0.0.1', trusted: false },
    { desc: 'the last address of a /24', entries: ['192.168.1.0/24'], peer: '192.168.1.255', trusted: true },
    { desc: 'the first address after a /24', entries: ['192.168.1.0/24'], peer: '192.168.2.0', trusted: false },
    { desc: 'any address in /0', entries: ['0.0.0.0/0'], peer: '203.0.113.9', trusted: true },
    { desc: 'the one trusted IPv6 address', entries: ['::1'], peer: '::1', trusted: true },
    { desc: 'another IPv6 address', entries: ['::1'], peer: '::2', trusted: false },
    { desc: 'an address inside an IPv6 subnet', entries: ['fd00::/8'], peer: 'fd12:3456::1', trusted: true },
    { desc: 'an address outside an IPv6 subnet', entries: ['fd00::/8'], peer: 'fe80::1', trusted: false },
    { desc: 'IPv4 loopback against IPv6 loopback', entries: ['::1'], peer: '127.0.0.1', trusted: false },
    { desc: 'IPv6 loopback against IPv4 loopback', entries: ['127.0.0.1'], peer: '::1', trusted: false },
    { desc: 'one entry of a mixed list', entries: ['127.0.0.1', 'fd00::/8', '10.0.0.0/8'], peer: '10.1.1.1', trusted: true },
    { desc: 'no entry of a mixed list', entries: ['127.0.0.1', 'fd00::/8', '10.0.0.0/8'], peer: '172.16.0.1', trusted: false },
    { desc: 'an empty peer address', entries: ['0.0.0.0/0'], peer: '', trusted: false },
  ])('$desc → $trusted', ({ entries, peer, trusted }) => {
    expect(isTrusted(trustList(entries), peer)).toBe(trusted)
  })

  it.each(['127.0.0.1', '::1', ''])('trusts nobody without a list (%s)', (peer) => {
    expect(isTrusted(undefined, peer)).toBe(false)
  })
})

describe('toOriginForm', () => {
  const requestFor = (url: string, host = 'client.example'): IncomingMessage =>
    ({ url, rawHeaders: ['Accept', '*/*', 'Host', host], headers: { accept: '*/*', host } }) as unknown as IncomingMessage

  it.each<{ target: string; origin: string; authority: string }>([
    { target: 'http://host/a?b=1', origin: '/a?b=1', authority: 'host' },
    { target: 'HTTPS://h', origin: '/', authority: 'h' },
    { target: 'http://h', origin: '/', authority: 'h' },
    { target: 'http://h?x=1', origin: '/?x=1', authority: 'h' },
    { target: 'Http://h:8080/x/y?z=1&w=2', origin: '/x/y?z=1&w=2', authority: 'h:8080' },
    { target: 'https://[::1]:8443/p', origin: '/p', authority: '[::1]:8443' },
    // As sent: the proxy does not normalise paths.
    { target: 'http://h/a/../b', origin: '/a/../b', authority: 'h' },
  ])('rewrites $target to $origin, with Host $authority (the target names the authority)', ({ target, origin, authority }) => {
    const req = requestFor(target)
    expect(toOriginForm(req)).toBe(true)
    expect(req.url).toBe(origin)
    expect(req.headers.host).toBe(authority)
    expect(req.rawHeaders).toEqual(['Accept', '*/*', 'Host', authority])
  })

  it('adds Host when the request had none (HTTP/1.0)', () => {
    const req = { url: 'http://h/x', rawHeaders: [], headers: {} } as unknown as IncomingMessage
    expect(toOriginForm(req)).toBe(true)
    expect(req.rawHeaders).toEqual(['Host', 'h'])
  })

  it.each<{ desc: string; target: string }>([
    { desc: 'a relative path', target: 'a/b' },
    { desc: 'an asterisk', target: '*' },
    { desc: 'an authority', target: 'h:443' },
    { desc: 'an ftp URL', target: 'ftp://h/file' },
    { desc: 'a ws URL', target: 'ws://h/socket' },
    { desc: 'http with one slash', target: 'http:/h/a' },
    { desc: 'http without a host', target: 'http://' },
    { desc: 'an unclosed IPv6 host', target: 'http://[::1/a' },
    { desc: 'a space in the host', target: 'http://exa mple/a' },
    { desc: 'a port out of range', target: 'http://h:99999/a' },
    { desc: 'userinfo', target: 'http://user:pw@h/p' },
    { desc: 'a list of hosts', target: 'http://a,b/p' },
  ])('refuses $desc and leaves req.url unchanged', ({ target }) => {
    const req = requestFor(target)
    expect(toOriginForm(req)).toBe(false)
    expect(req.url).toBe(target)
  })
})

describe('validHost', () => {
  it.each(['a.example', 'a.example:8080', 'localhost', '127.0.0.1:80', '[::1]', '[::1]:8443', 'under_score.example', 'x:65535'])('accepts %s', (host) => {
    expect(validHost(host)).toBe(true)
  })

  it.each([undefined, '', 'a b@c', 'a.example, b.example', 'user@h', 'h:', 'h:99999', 'h:8o', '[zz]:80', '[::1', 'h/x', ':80'])('refuses %s', (host) => {
    expect(validHost(host)).toBe(false)
  })
})

describe('clientAddressOf', () => {
  const trust = trustList(['10.0.0.0/8'])
  const req = (xff?: string) => ({ headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage

  it.each<{ desc: string; peer: string; xff?: string; client: string }>([
    { desc: 'an untrusted peer is the client, whatever it claims', peer: '203.0.113.5', xff: '6.6.6.6', client: '203.0.113.5' },
    { desc: 'behind a trusted proxy, the address it saw', peer: '10.0.0.2', xff: '198.51.100.7', client: '198.51.100.7' },
    { desc: 'through two trusted proxies, the first untrusted from the right', peer: '10.0.0.2', xff: '6.6.6.6, 198.51.100.7, 10.0.0.9', client: '198.51.100.7' },
    { desc: 'a trusted peer that says nothing', peer: '10.0.0.2', client: '10.0.0.2' },
    { desc: 'a chain of trusted proxies only', peer: '10.0.0.2', xff: '10.1.1.1', client: '10.0.0.2' },
    { desc: 'a garbled entry stops the walk', peer: '10.0.0.2', xff: '198.51.100.7, not-an-ip', client: 'not-an-ip' },
  ])('$desc', ({ peer, xff, client }) => {
    expect(clientAddressOf(req(xff), peer, trust)).toBe(client)
  })
})

describe('peerAddressOf', () => {
  it.each<{ remote: string | undefined; peer: string }>([
    { remote: '::ffff:127.0.0.1', peer: '127.0.0.1' },
    { remote: '::ffff:10.1.2.3', peer: '10.1.2.3' },
    { remote: '127.0.0.1', peer: '127.0.0.1' },
    { remote: '::1', peer: '::1' },
    { remote: '2001:db8::ffff:1', peer: '2001:db8::ffff:1' },
    { remote: undefined, peer: '' },
  ])('gives $peer for remoteAddress $remote', ({ remote, peer }) => {
    expect(peerAddressOf({ remoteAddress: remote } as unknown as Socket)).toBe(peer)
  })
})

/** A socket stand-in that records what answerClientError does with it. */
class FakeSocket {
  readonly written: string[] = []
  destroyed = 0
  constructor(
    readonly writable: boolean,
    readonly bytesWritten: number,
  ) {}
  end(chunk?: string): this {
    if (chunk !== undefined) this.written.push(chunk)
    return this
  }
  destroy(): this {
    this.destroyed++
    return this
  }
  asDuplex(): Duplex {
    return this as unknown as Duplex
  }
}

interface ParsedResponse {
  readonly statusLine: string
  readonly headers: Record<string, string>
  readonly body: string
}

function parseResponse(text: string): ParsedResponse {
  const split = text.indexOf('\r\n\r\n')
  expect(split, 'a blank line after the head').toBeGreaterThan(0)
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    expect(colon, `a header line: ${line}`).toBeGreaterThan(0)
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { statusLine: statusLine!, headers, body: text.slice(split + 4) }
}

const error = (code: string | undefined): NodeJS.ErrnoException => Object.assign(new Error('parse error'), code === undefined ? {} : { code })

describe('answerClientError', () => {
  it.each<{ code: string | undefined; status: number; reason: string }>([
    { code: 'HPE_HEADER_OVERFLOW', status: 431, reason: 'Request Header Fields Too Large' },
    { code: 'HPE_URI_TOO_LONG', status: 414, reason: 'URI Too Long' },
    { code: 'ERR_HTTP_REQUEST_TIMEOUT', status: 408, reason: 'Request Timeout' },
    { code: 'HPE_INVALID_METHOD', status: 400, reason: 'Bad Request' },
    { code: 'HPE_INVALID_HEADER_TOKEN', status: 400, reason: 'Bad Request' },
    { code: undefined, status: 400, reason: 'Bad Request' },
  ])('answers $code with $status and closes the connection', ({ code, status, reason }) => {
    const socket = new FakeSocket(true, 0)
    answerClientError(error(code), socket.asDuplex())
    expect(socket.destroyed, 'not destroyed').toBe(0)
    expect(socket.written, 'one end() with the whole response').toHaveLength(1)
    const response = parseResponse(socket.written[0]!)
    expect(response.statusLine).toBe(`HTTP/1.1 ${status} ${reason}`)
    expect(response.headers).toEqual({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(response.body)),
      connection: 'close',
    })
    expect(JSON.parse(response.body)).toEqual({ error: { code: 'bad_request', message: reason } })
  })

  it.each<{ desc: string; writable: boolean; bytesWritten: number }>([
    { desc: 'the socket is not writable', writable: false, bytesWritten: 0 },
    { desc: 'part of a response was already written', writable: true, bytesWritten: 17 },
    { desc: 'both', writable: false, bytesWritten: 17 },
  ])('destroys the socket without writing when $desc', ({ writable, bytesWritten }) => {
    for (const code of ['HPE_HEADER_OVERFLOW', 'HPE_INVALID_METHOD', 'ECONNRESET']) {
      const socket = new FakeSocket(writable, bytesWritten)
      answerClientError(error(code), socket.asDuplex())
      expect(socket.destroyed, code).toBe(1)
      expect(socket.written, code).toEqual([])
    }
  })
})
