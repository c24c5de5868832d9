/** Fixtures shared by the routing tests. */
import type { ServiceConfig } from '../../src/config/types.js'

/** mulberry32: a tiny seeded PRNG, so every run sees the same keys. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** A complete ServiceConfig with the given groups; the fields routing does not read get defaults. */
export function serviceConfig(groupNames: readonly string[], name = 'svc'): ServiceConfig {
  return {
    name,
    listen: { host: '127.0.0.1', port: 0, maxConnections: 10_000, http2: true, h2c: false },
    vhosts: [],
    vhostCertificates: [],
    groups: groupNames.map((group) => ({ name: group, instances: ['127.0.0.1:9000'] })),
    weights: {},
    sticky: { by: 'cookie', cookie: 'zdd_client', header: 'x-client-id' },
    override: { header: 'x-zdd-group', cookie: 'zdd_group', allow: 'weighted' },
    healthChecks: [],
    readinessChecks: [],
    retries: 2,
    timeouts: { connectMs: 2000, headersMs: 30_000, idleMs: 60_000, queueMs: 5000, sendMs: 60_000 },
    exposeGroupHeader: true,
    drainSeconds: 30,
    retryMethods: ['GET', 'HEAD', 'OPTIONS'],
    retryBudgetPercent: 20,
    outlierDetection: { consecutiveFailures: 1, consecutive5xx: 5, baseEjectionSeconds: 30, maxEjectionSeconds: 300, maxEjectionPercent: 50, unejectOnPassingCheck: true },
    redispatch: true,
    limits: { connectionsPerInstance: 256, queuePerInstance: 256, requestBufferBytes: 65536 },
    slowStartSeconds: 0,
    observedShare: { windowSeconds: 60, maxDrift: 0.05, minClients: 100 },
  }
}
