import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { constantLoad } from '../helpers/constant-load.js'
import { allIn, waitForStates } from '../helpers/health-log.js'
import { startIdBackend } from '../helpers/id-backend.js'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles, startProxyProcess } from '../helpers/proxy.js'

describe('POST drill', () => {
  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  it('SIGKILL mid-stream: only the POSTs in flight on that instance fail (502), none is delivered twice', async () => {
    // Each backend holds every POST 300 ms, so at 60 POSTs/s about 4 are in flight on each.
    const backends = await Promise.all(['a1', 'a2', 'b1', 'b2'].map((name) => startIdBackend(name, 300)))
    const victim = backends[3]!
    const proxy = await startProxyProcess({
      services: [
        {
          name: 'svc',
          listen: { host: '127.0.0.1', port: 0 },
          groups: [
            { name: 'a', instances: [backends[0]!.address, backends[1]!.address] },
            { name: 'b', instances: [backends[2]!.address, victim.address] },
          ],
          healthChecks: [{ protocol: 'TCP', gracePeriodSeconds: 5, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2, delaySeconds: 0 }],
          timeouts: { connectMs: 1_000, headersMs: 5_000, idleMs: 5_000 },
        },
      ],
    })
    const addresses = backends.map((backend) => backend.address)
    await waitForStates(proxy.output, allIn(addresses, 'healthy'), 10_000, 'all backends healthy')
    const load = constantLoad({ url: `${proxy.url}/ingest`, method: 'POST', body: (id) => JSON.stringify({ id, pad: 'x'.repeat(2_000) }), rps: 60, durationMs: 4_000 })
    await sleep(1_500)
    await victim.stop('SIGKILL')
    const records = await load

    const receivers = new Map<string, string[]>()
    for (const backend of backends) {
      for (const id of backend.received()) receivers.set(id, [...(receivers.get(id) ?? []), backend.name])
    }
    // None delivered twice.
    expect([...receivers].filter(([, names]) => names.length > 1)).toEqual([])
    const failed = records.filter((record) => record.status !== 200)
    // The POSTs the killed backend received and never answered were in flight there: each one failed.
    const answeredByVictim = new Set(records.filter((r) => r.status === 200 && r.body.includes('"instance":"b2"')).map((r) => r.id))
    const inFlight = victim.received().filter((id) => !answeredByVictim.has(id))
    expect(inFlight.length).toBeGreaterThan(0)
    expect(failed.map((record) => record.id)).toEqual(expect.arrayContaining(inFlight))
    for (const record of failed) {
      // Answered 502 by the proxy (the instance is named in its log only); reached no other backend.
      expect(record.status).toBe(502)
      expect(record.body).not.toContain(victim.address)
      expect((receivers.get(record.id) ?? ['b2'])).toEqual(['b2'])
    }
    const victimFailures = proxy.output().match(new RegExp(`"event":"upstream_failure"[^\\n]*"instance":"${victim.address}"`, 'g')) ?? []
    expect(victimFailures.length).toBeGreaterThanOrEqual(failed.length)
    // Every success was delivered exactly once, and answered by the backend that received it.
    for (const record of records.filter((r) => r.status === 200)) {
      const answer = JSON.parse(record.body) as { id: string; instance: string; bytes: number }
      expect(answer.id).toBe(record.id)
      expect(receivers.get(record.id)).toEqual([answer.instance])
    }
    expect(records.length).toBeGreaterThan(200)
  })
})
