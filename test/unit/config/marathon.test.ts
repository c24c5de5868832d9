import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/validation/config.js'

// The lab's own Marathon app definitions (see PROVENANCE.txt there).
const seedLab = new URL('../../fixtures/seed-lab/', import.meta.url)
const seedFiles = [
  'default/base-health.json',
  'default/base-ready.json',
  'default/base-health-update.json',
  'default/base-min-over.json',
  'blue-green/blue.json',
  'blue-green/green.json',
  'canary/v09.json',
  'canary/v10.json',
]

/** A one-service config carrying the given check blocks. */
function withChecks(blocks: { healthChecks?: unknown; readinessChecks?: unknown }) {
  return { services: [{ name: 's', groups: [{ name: 'a', instances: ['127.0.0.1:9001'] }], ...blocks }] }
}

describe("Marathon blocks from the lab's app definitions parse as pasted", () => {
  for (const file of seedFiles) {
    it(file, () => {
      const app = JSON.parse(readFileSync(new URL(file, seedLab), 'utf8')) as Record<string, unknown>
      const blocks = { healthChecks: app.healthChecks, readinessChecks: app.readinessChecks }
      expect(blocks.healthChecks ?? blocks.readinessChecks).toBeDefined()
      const service = parseConfig(withChecks(blocks), {}, file).services[0]!
      // Every key Marathon wrote survives with its value; the rest are defaults.
      expect(service.healthChecks).toHaveLength((app.healthChecks as unknown[] | undefined)?.length ?? 0)
      ;(app.healthChecks as object[] | undefined)?.forEach((block, index) => expect(service.healthChecks[index]).toMatchObject(block))
      ;(app.readinessChecks as object[] | undefined)?.forEach((block, index) => expect(service.readinessChecks[index]).toMatchObject(block))
    })
  }
})

describe('Marathon blocks', () => {
  it('fills Marathon defaults for an empty health check', () => {
    const [check] = parseConfig(withChecks({ healthChecks: [{}] }), {}, 'c.json').services[0]!.healthChecks
    expect(check).toEqual({
      protocol: 'HTTP',
      path: '/',
      portIndex: 0,
      gracePeriodSeconds: 300,
      intervalSeconds: 60,
      timeoutSeconds: 20,
      maxConsecutiveFailures: 3,
      ignoreHttp1xx: false,
      delaySeconds: 15,
    })
  })

  it('fills Marathon defaults for an empty readiness check', () => {
    const [check] = parseConfig(withChecks({ readinessChecks: [{}] }), {}, 'c.json').services[0]!.readinessChecks
    expect(check).toEqual({
      name: 'readinessCheck',
      protocol: 'HTTP',
      path: '/',
      portName: 'http-api',
      intervalSeconds: 30,
      timeoutSeconds: 10,
      httpStatusCodesForReady: [200],
      preserveLastResponse: false,
    })
  })

  it('accepts port, ipProtocol and command; keeps port, drops the other two', () => {
    const healthChecks = [
      { protocol: 'MESOS_HTTP', path: '/health', port: 8081, ipProtocol: 'IPv6', delaySeconds: 5 },
      { protocol: 'TCP', command: { value: 'curl -f http://$HOST:$PORT0/health' } },
    ]
    const [http, tcp] = parseConfig(withChecks({ healthChecks }), {}, 'c.json').services[0]!.healthChecks
    expect(http).toMatchObject({ protocol: 'MESOS_HTTP', port: 8081, delaySeconds: 5 })
    expect(http).not.toHaveProperty('ipProtocol')
    expect(tcp).toMatchObject({ protocol: 'TCP' })
    expect(tcp).not.toHaveProperty('command')
  })
})
