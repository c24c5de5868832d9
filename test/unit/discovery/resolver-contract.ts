import { afterEach, describe, expect, it } from 'vitest'
import { formatAddress, type InstanceAddress, type Resolver } from '../../../src/discovery/types.js'

/**
 * Publishes `addresses` (duplicates included, as given) wherever the resolver looks, and returns a
 * resolver that should find exactly them. Hosts are IP addresses (127.0.0.x or ::1).
 */
export type MakeResolverWithEndpoints = (addresses: readonly InstanceAddress[]) => Promise<Resolver>

const keys = (addresses: readonly InstanceAddress[]) => [...new Set(addresses.map(formatAddress))].sort()

/** The `Resolver` contract (src/discovery/types.ts); every implementation runs it. */
export function runResolverContract(name: string, makeResolverWithEndpoints: MakeResolverWithEndpoints): void {
  describe(`Resolver contract: ${name}`, () => {
    const made: Resolver[] = []
    const make = async (addresses: readonly InstanceAddress[]) => {
      const resolver = await makeResolverWithEndpoints(addresses)
      made.push(resolver)
      return resolver
    }
    afterEach(() => {
      for (const resolver of made.splice(0)) resolver.close?.()
    })

    it('returns the published addresses', async () => {
      const published = [
        { host: '127.0.0.1', port: 9001 },
        { host: '127.0.0.2', port: 9002 },
        { host: '127.0.0.1', port: 9003 },
      ]
      const resolution = await (await make(published)).resolve()
      expect(resolution.kind).toBe('ok')
      if (resolution.kind !== 'ok') return
      expect(keys(resolution.addresses)).toEqual(keys(published))
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
      expect(resolution.addresses.map(formatAddress).sort()).toEqual(['127.0.0.1:9001', '127.0.0.2:9001'])
    })

    it('gives InstanceAddress objects with numeric ports and bare IPv6 hosts', async () => {
      const resolution = await (await make([{ host: '::1', port: 9005 }, { host: '127.0.0.1', port: 9006 }])).resolve()
      expect(resolution.kind).toBe('ok')
      if (resolution.kind !== 'ok') return
      for (const address of resolution.addresses) {
        expect(typeof address.host).toBe('string')
        expect(Number.isInteger(address.port)).toBe(true)
        expect(address.port).toBeGreaterThan(0)
      }
      expect(keys(resolution.addresses)).toEqual(['127.0.0.1:9006', '[::1]:9005'])
      expect(resolution.addresses.find((address) => address.port === 9005)?.host).toBe('::1')
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
