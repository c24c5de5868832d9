import { afterEach, describe, expect, it } from 'vitest'
import { endpointKey, type Endpoint, type Resolver } from '../../../src/discovery/types.js'

/**
 * Publishes `endpoints` (duplicates included, as given) wherever the resolver looks, and returns a
 * resolver that should find exactly them. Hosts are IP addresses (127.0.0.x or ::1).
 */
export type MakeResolverWithEndpoints = (endpoints: readonly Endpoint[]) => Promise<Resolver>

const keys = (endpoints: readonly Endpoint[]) => [...new Set(endpoints.map(endpointKey))].sort()

/** The `Resolver` contract (src/discovery/types.ts); every implementation runs it. */
export function runResolverContract(name: string, makeResolverWithEndpoints: MakeResolverWithEndpoints): void {
  describe(`Resolver contract: ${name}`, () => {
    const made: Resolver[] = []
    const make = async (endpoints: readonly Endpoint[]) => {
      const resolver = await makeResolverWithEndpoints(endpoints)
      made.push(resolver)
      return resolver
    }
    afterEach(() => {
      for (const resolver of made.splice(0)) resolver.close?.()
    })

    it('returns the published endpoints', async () => {
      const published = [
        { host: '127.0.0.1', port: 9001 },
        { host: '127.0.0.2', port: 9002 },
        { host: '127.0.0.1', port: 9003 },
      ]
      const resolution = await (await make(published)).resolve()
      expect(resolution.kind).toBe('ok')
      if (resolution.kind !== 'ok') return
      expect(keys(resolution.endpoints)).toEqual(keys(published))
    })

    it('merges duplicates', async () => {
      const published = [
        { host: '127.0.0.1', port: 9001 },
        { host: '127.0.0.1', port: 9001 },
        { host: '127.0.0.2', port: 9001 },
      ]
      const resolution = await (await make(published)).resolve()
      expect(resolution.kind).toBe('ok')
      if (resolution.kind !== 'ok') return
      expect(resolution.endpoints.map(endpointKey).sort()).toEqual(['127.0.0.1:9001', '127.0.0.2:9001'])
    })

    it('gives Endpoint objects with numeric ports and bare IPv6 hosts', async () => {
      const resolution = await (await make([{ host: '::1', port: 9005 }, { host: '127.0.0.1', port: 9006 }])).resolve()
      expect(resolution.kind).toBe('ok')
      if (resolution.kind !== 'ok') return
      for (const endpoint of resolution.endpoints) {
        expect(typeof endpoint.host).toBe('string')
        expect(Number.isInteger(endpoint.port)).toBe(true)
        expect(endpoint.port).toBeGreaterThan(0)
      }
      expect(keys(resolution.endpoints)).toEqual(['127.0.0.1:9006', '[::1]:9005'])
      expect(resolution.endpoints.find((endpoint) => endpoint.port === 9005)?.host).toBe('::1')
    })

    it('never throws: concurrent calls, repeated calls and calls after close() resolve', async () => {
      const resolver = await make([{ host: '127.0.0.1', port: 9001 }])
      const results = await Promise.all(Array.from({ length: 10 }, () => resolver.resolve()))
      for (const result of results) expect(result.kind).toBe('ok')
      resolver.close?.()
      const after = await resolver.resolve()
      expect(['ok', 'error']).toContain(after.kind)
    })

    it('has a description', async () => {
      const resolver = await make([{ host: '127.0.0.1', port: 9001 }])
      expect(resolver.description.length).toBeGreaterThan(0)
    })
  })
}
