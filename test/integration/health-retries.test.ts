import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, startProxyProcess } from '../helpers/proxy.js'

/** A backend that reads each request and then resets the connection without answering. */
async function startResetter(): Promise<{ server: Server; address: string; hits: () => number }> {
  let hits = 0
  const server = createServer((req) => {
    hits++
    req.resume()
    req.once('end', () => req.socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits }
}

async function startAnswerer(): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    req.resume()
    req.once('end', () => res.end('ok'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` }
}

describe('retries after the request was sent', () => {
  const agent = new Agent({ keepAliveTimeout: 1_000 })
  let resetter: Awaited<ReturnType<typeof startResetter>>
  let secondResetter: Awaited<ReturnType<typeof startResetter>>
  let answerer: Awaited<ReturnType<typeof startAnswerer>>

  beforeAll(async () => {
    resetter = await startResetter()
    secondResetter = await startResetter()
    answerer = await startAnswerer()
  })

  afterAll(async () => {
    await stopAll()
    await agent.close()
    for (const { server } of [resetter, secondResetter, answerer]) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    removeTempFiles()
  })

  /**
   * A proxy over the resetting and the answering instance. Ejection is off so every request may
   * meet the reset, and half of them do, so the budget is raised from 20 % unless a test sets it.
   */
  const proxyWith = (extra: Record<string, unknown>) =>
    startProxyProcess(
      serviceConfig({ a: [resetter.address, answerer.address] }, { a: 1 }, { outlierDetection: { consecutiveFailures: 0 }, retryBudgetPercent: 100, ...extra }),
    )

  /** Sends `count` requests one by one; returns their statuses and how many reached the resetter. */
  async function send(url: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', count: number, body?: string) {
    const before = resetter.hits()
    const statuses: number[] = []
    for (let i = 0; i < count; i++) {
      const response = await request(`${url}/x`, { dispatcher: agent, method, body })
      await response.body.dump()
      statuses.push(response.statusCode)
    }
    return { statuses, reset: resetter.hits() - before }
  }

  // Sequential requests see both instances idle, so P2C picks the resetter first about half the
  // time: with 60 requests, P(it never does) = 2^-60.
  it('retries a GET once on another instance; PUT and DELETE only by opt-in; POST never', async () => {
    const proxy = await proxyWith({})
    const get = await send(proxy.url, 'GET', 60)
    expect(get.reset).toBeGreaterThan(0)
    expect(get.statuses.every((status) => status === 200)).toBe(true)
    for (const method of ['PUT', 'DELETE', 'POST'] as const) {
      const result = await send(proxy.url, method, 60)
      expect(result.statuses.filter((status) => status === 502)).toHaveLength(result.reset)
    }
    const optIn = await proxyWith({ retryMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] })
    for (const method of ['PUT', 'DELETE'] as const) {
      const result = await send(optIn.url, method, 60)
      expect(result.reset).toBeGreaterThan(0)
      expect(result.statuses.every((status) => status === 200)).toBe(true)
    }
    // A request whose body was sent is never retried after a reset.
    const withBody = await send(optIn.url, 'PUT', 60, 'payload')
    expect(withBody.statuses.filter((status) => status === 502)).toHaveLength(withBody.reset)
  })

  it('the retry budget caps retries (here at its minimum of 5 per window)', async () => {
    const proxy = await proxyWith({ retryBudgetPercent: 0 })
    const result = await send(proxy.url, 'GET', 60)
    expect(result.reset).toBeGreaterThan(5)
    expect(result.statuses.filter((status) => status === 502)).toHaveLength(result.reset - 5)
  })

  // A whole group going down resets one request on each of its instances (two instances killed
  // together): a GET then goes to the other group, once it was tried on every instance of its own.
  // Sticky keys are random here, so group a (weight 90) gets each request with p = 0.9: with 60
  // requests, P(none) = 10^-60.
  it('redispatches a GET reset by every instance of its group, with the default single retry; never a POST', async () => {
    const proxy = await startProxyProcess(
      serviceConfig({ a: [resetter.address, secondResetter.address], b: [answerer.address] }, { a: 90, b: 10 }, { outlierDetection: { consecutiveFailures: 0 }, retryBudgetPercent: 100 }),
    )
    const before = [resetter.hits(), secondResetter.hits()]
    const groups: string[] = []
    for (let i = 0; i < 60; i++) {
      const response = await request(`${proxy.url}/x`, { dispatcher: agent })
      const text = await response.body.text()
      expect(response.statusCode, text).toBe(200)
      groups.push(String(response.headers['x-zdd-group']))
    }
    const hits = [resetter.hits() - before[0]!, secondResetter.hits() - before[1]!]
    expect(new Set(groups)).toEqual(new Set(['b']))
    // Each request routed to a met both of its instances once, not one of them twice.
    expect(hits[0]).toBeGreaterThan(0)
    expect(hits[0]).toBe(hits[1])
    // A POST reset once is answered 502: neither retried nor redispatched.
    const second = secondResetter.hits()
    const post = await send(proxy.url, 'POST', 60)
    expect(post.statuses.filter((status) => status === 502)).toHaveLength(post.reset + secondResetter.hits() - second)
  })
})
