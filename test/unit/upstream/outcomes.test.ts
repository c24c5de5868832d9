import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { classifyFailure, type FailureKind } from '../../../src/upstream/outcomes.js'

/** An Error with the given `code` and `syscall`, as Node and undici raise them. */
function failure(code: unknown, syscall?: string): Error {
  return Object.assign(new Error('failed'), code === undefined ? {} : { code }, syscall === undefined ? {} : { syscall })
}

describe('classifyFailure', () => {
  it.each<{ code: string; syscall?: string; kind: FailureKind }>([
    { code: 'UND_ERR_CONNECT_TIMEOUT', kind: 'connect' },
    { code: 'ECONNREFUSED', kind: 'connect' },
    { code: 'UND_ERR_CLOSED', kind: 'connect' },
    { code: 'UND_ERR_DESTROYED', kind: 'connect' },
    { code: 'UND_ERR_HEADERS_TIMEOUT', kind: 'timeout' },
    { code: 'UND_ERR_BODY_TIMEOUT', kind: 'timeout' },
    { code: 'UND_ERR_SOCKET', kind: 'reset' },
    { code: 'ECONNRESET', kind: 'reset' },
    { code: 'EPIPE', kind: 'reset' },
    { code: 'UND_ERR_ABORTED', kind: 'other' },
    { code: 'UND_ERR_INFO', kind: 'other' },
    { code: 'ETIMEDOUT', kind: 'other' },
    { code: 'ENOTFOUND', kind: 'other' },
    { code: 'econnrefused', kind: 'other' },
  ])('classifies code $code as $kind', ({ code, kind }) => {
    expect(classifyFailure(failure(code))).toBe(kind)
  })

  it.each<{ desc: string; code: unknown; syscall: string | undefined; kind: FailureKind }>([
    { desc: 'ETIMEDOUT in connect', code: 'ETIMEDOUT', syscall: 'connect', kind: 'connect' },
    { desc: 'EHOSTUNREACH in connect', code: 'EHOSTUNREACH', syscall: 'connect', kind: 'connect' },
    { desc: 'ECONNRESET in connect (syscall wins)', code: 'ECONNRESET', syscall: 'connect', kind: 'connect' },
    { desc: 'no code, syscall connect', code: undefined, syscall: 'connect', kind: 'connect' },
    { desc: 'ECONNRESET in read', code: 'ECONNRESET', syscall: 'read', kind: 'reset' },
    { desc: 'EPIPE in write', code: 'EPIPE', syscall: 'write', kind: 'reset' },
    { desc: 'ETIMEDOUT in read', code: 'ETIMEDOUT', syscall: 'read', kind: 'other' },
    { desc: 'ENOTFOUND in getaddrinfo', code: 'ENOTFOUND', syscall: 'getaddrinfo', kind: 'other' },
  ])('classifies $desc as $kind', ({ code, syscall, kind }) => {
    expect(classifyFailure(failure(code, syscall))).toBe(kind)
  })

  it.each<{ desc: string; error: Error }>([
    { desc: 'a plain Error', error: new Error('boom') },
    { desc: 'a TypeError', error: new TypeError('x is not a function') },
    { desc: 'a numeric code', error: failure(111) },
    { desc: 'an empty code', error: failure('') },
    { desc: 'a syscall of another case', error: failure(undefined, 'CONNECT') },
  ])('classifies $desc as other', ({ error }) => {
    expect(classifyFailure(error)).toBe('other')
  })

  it.each<{ desc: string; error: Error; kind: FailureKind }>([
    { desc: 'ConnectTimeoutError', error: new errors.ConnectTimeoutError(), kind: 'connect' },
    { desc: 'ClientClosedError', error: new errors.ClientClosedError(), kind: 'connect' },
    { desc: 'ClientDestroyedError', error: new errors.ClientDestroyedError(), kind: 'connect' },
    { desc: 'HeadersTimeoutError', error: new errors.HeadersTimeoutError(), kind: 'timeout' },
    { desc: 'BodyTimeoutError', error: new errors.BodyTimeoutError(), kind: 'timeout' },
    { desc: 'SocketError', error: new errors.SocketError('other side closed'), kind: 'reset' },
    { desc: 'RequestAbortedError', error: new errors.RequestAbortedError(), kind: 'other' },
  ])("classifies undici's $desc as $kind", ({ error, kind }) => {
    expect(classifyFailure(error)).toBe(kind)
  })
})
