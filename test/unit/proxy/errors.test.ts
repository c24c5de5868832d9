import { createServer, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorForFailure, ProxyErrors, sendError, type ProxyError } from '../../../src/proxy/errors.js'
import type { FailureKind } from '../../../src/upstream/outcomes.js'

describe('ProxyErrors', () => {
  it.each<{ name: keyof typeof ProxyErrors; status: number; code: string }>([
    { name: 'noLiveInstance', status: 503, code: 'no_live_instance' },
    { name: 'unknownHost', status: 404, code: 'unknown_host' },
    { name: 'connectFailed', status: 502, code: 'upstream_connect_failed' },
    { name: 'upstreamReset', status: 502, code: 'upstream_reset' },
    { name: 'upstreamError', status: 502, code: 'upstream_error' },
    { name: 'upstreamTimeout', status: 504, code: 'upstream_timeout' },
    { name: 'badRequest', status: 400, code: 'bad_request' },
    { name: 'methodNotAllowed', status: 405, code: 'method_not_allowed' },
    { name: 'uriTooLong', status: 414, code: 'uri_too_long' },
    { name: 'headersTooLarge', status: 431, code: 'headers_too_large' },
    { name: 'overloaded', status: 503, code: 'overloaded' },
  ])('$name is $status $code', ({ name, status, code }) => {
    expect(ProxyErrors[name]).toEqual({ status, code })
  })

  it('has eleven errors, each with its own code', () => {
    const codes = Object.values(ProxyErrors).map((error) => error.code)
    expect(codes).toHaveLength(11)
    expect(new Set(codes).size, 'codes are unique').toBe(codes.length)
  })
})

describe('errorForFailure', () => {
  it.each<{ kind: FailureKind; error: ProxyError; status: number }>([
    { kind: 'connect', error: ProxyErrors.connectFailed, status: 502 },
    { kind: 'timeout', error: ProxyErrors.upstreamTimeout, status: 504 },
    { kind: 'reset', error: ProxyErrors.upstreamReset, status: 502 },
    { kind: 'other', error: ProxyErrors.upstreamError, status: 502 },
  ])('answers a $kind failure with $error.code', ({ kind, error, status }) => {
    const answer = errorForFailure(kind)
    expect(answer).toBe(error)
    expect(answer.status).toBe(status)
  })
})

/** A ServerResponse stand-in that records writeHead, end and destroy. */
class FakeResponse {
  readonly heads: { status: number; headers: OutgoingHttpHeaders }[] = []
  readonly bodies: string[] = []
  destroyed = 0
  constructor(readonly headersSent: boolean) {}
  writeHead(status: number, headers: OutgoingHttpHeaders): this {
    this.heads.push({ status, headers })
    return this
  }
  end(body?: string): this {
    if (body !== undefined) this.bodies.push(body)
    return this
  }
  destroy(): this {
    this.destroyed++
    return this
  }
  asResponse(): ServerResponse {
    return this as unknown as ServerResponse
  }
}

describe('sendError', () => {
  it.each<{ desc: string; error: ProxyError; message: string }>([
    { desc: 'a 503', error: ProxyErrors.noLiveInstance, message: 'no live instance in group "canary"' },
    { desc: 'a 504', error: ProxyErrors.upstreamTimeout, message: 'upstream did not answer within 30s' },
    { desc: 'a 400 with an empty message', error: ProxyErrors.badRequest, message: '' },
    { desc: 'a non-ASCII message (length in bytes)', error: ProxyErrors.unknownHost, message: 'unknown host "bücher.example" — ✓' },
    { desc: 'a message that needs JSON escaping', error: ProxyErrors.upstreamError, message: 'said "no"\nthen \\ left' },
  ])('sends $desc as a JSON error body', ({ error, message }) => {
    const res = new FakeResponse(false)
    sendError(res.asResponse(), error, message)
    expect(res.destroyed, 'not destroyed').toBe(0)
    expect(res.heads, 'one writeHead').toHaveLength(1)
    expect(res.bodies, 'one body').toHaveLength(1)
    const body = res.bodies[0]!
    expect(res.heads[0]!.status).toBe(error.status)
    expect(res.heads[0]!.headers).toEqual({
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    })
    expect(JSON.parse(body)).toEqual({ error: { code: error.code, message } })
  })

  it('says when to retry with Retry-After when asked to', () => {
    const res = new FakeResponse(false)
    sendError(res.asResponse(), ProxyErrors.overloaded, 'every instance of group a is at its limits', { retryAfterSeconds: 1, requestId: 'r-7' })
    expect(res.heads[0]!.status).toBe(503)
    expect(res.heads[0]!.headers['retry-after']).toBe(1)
    expect(res.heads[0]!.headers['x-request-id']).toBe('r-7')
  })

  it('destroys the response instead once its headers were sent', () => {
    const res = new FakeResponse(true)
    sendError(res.asResponse(), ProxyErrors.upstreamReset, 'upstream reset mid-body')
    expect(res.destroyed).toBe(1)
    expect(res.heads, 'no writeHead').toEqual([])
    expect(res.bodies, 'no body').toEqual([])
  })

  describe('on a real server', () => {
    const MESSAGE = 'no live instance for "shop.example" — ünïcode'
    let server: Server
    let agent: Agent
    let origin: string

    beforeAll(async () => {
      server = createServer((_req, res) => sendError(res, ProxyErrors.noLiveInstance, MESSAGE))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      agent = new Agent()
    })

    afterAll(async () => {
      await agent.close()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
    })

    it('answers with a response a client can read', async () => {
      const response = await request(`${origin}/any`, { dispatcher: agent })
      const body = await response.body.text()
      expect(response.statusCode).toBe(503)
      expect(response.headers['content-type']).toBe('application/json')
      expect(response.headers['cache-control']).toBe('no-store')
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(body)))
      expect(JSON.parse(body)).toEqual({ error: { code: 'no_live_instance', message: MESSAGE } })
    })
  })
})
