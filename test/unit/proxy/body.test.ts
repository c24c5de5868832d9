import type { IncomingMessage } from 'node:http'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { bodyReplayable, hasBody, readBody, type RequestBody } from '../../../src/proxy/body.js'

/** A request stream with the given headers; `send` writes chunks, `finish` ends it. */
function fakeRequest(headers: Record<string, string>) {
  const stream = new PassThrough()
  const req = Object.assign(stream, { headers }) as unknown as IncomingMessage
  return { req, send: (text: string) => stream.write(Buffer.from(text)), finish: () => stream.end() }
}

const read = (req: IncomingMessage, limit: number) => new Promise<RequestBody>((resolve) => readBody(req, limit, resolve))

async function text(body: RequestBody): Promise<string> {
  if (body === null) return ''
  if (Buffer.isBuffer(body)) return body.toString()
  let all = ''
  for await (const chunk of body as Readable) all += String(chunk)
  return all
}

describe('readBody', () => {
  it('reads a body within the limit whole, as one buffer', async () => {
    const { req, send, finish } = fakeRequest({ 'content-length': '11' })
    const body = read(req, 16)
    send('hello ')
    send('world')
    finish()
    const got = await body
    expect(Buffer.isBuffer(got)).toBe(true)
    expect(await text(got)).toBe('hello world')
  })

  it('streams a body that declares more than the limit, from the start', async () => {
    const { req } = fakeRequest({ 'content-length': '17' })
    expect(await read(req, 16)).toBe(req)
  })

  it('replays what it read and goes on with the rest when a chunked body turns out larger', async () => {
    const { req, send, finish } = fakeRequest({ 'transfer-encoding': 'chunked' })
    const body = read(req, 8)
    send('12345')
    send('67890')
    const got = await body
    expect(Buffer.isBuffer(got)).toBe(false)
    send('abc')
    finish()
    expect(await text(got)).toBe('1234567890abc')
    expect(bodyReplayable(got, req)).toBe(false)
  })

  it('with a limit of 0, never buffers', async () => {
    const { req } = fakeRequest({ 'content-length': '3' })
    expect(await read(req, 0)).toBe(req)
  })
})

describe('hasBody and bodyReplayable', () => {
  it('tells bodies apart', () => {
    expect(hasBody({ headers: {} } as IncomingMessage)).toBe(false)
    expect(hasBody({ headers: { 'content-length': '0' } } as unknown as IncomingMessage)).toBe(false)
    expect(hasBody({ headers: { 'content-length': '1' } } as unknown as IncomingMessage)).toBe(true)
    expect(hasBody({ headers: { 'transfer-encoding': 'chunked' } } as unknown as IncomingMessage)).toBe(true)
    const req = Readable.from([]) as unknown as IncomingMessage
    expect(bodyReplayable(null, req)).toBe(true)
    expect(bodyReplayable(Buffer.from('x'), req)).toBe(true)
    expect(bodyReplayable(req, req)).toBe(true)
  })
})
