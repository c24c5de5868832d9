import { afterAll, expect, it } from 'vitest'
import { stopAll } from '../helpers/processes.js'
import { removeTempFiles } from '../helpers/proxy.js'
import { admin, agent, controlConfig, openEvents, startControlledProxy, startSimpleService, stateDir } from './control-helpers.js'

afterAll(async () => {
  await stopAll()
  await agent.close()
  removeTempFiles()
})

it('streams weights_changed, cutover_started, cutover_completed, rollback and health_changed in order', async () => {
  const [blue, green] = await Promise.all([startSimpleService('0.9'), startSimpleService('1.0')])
  const proxy = await startControlledProxy(
    controlConfig(
      { blue: [blue.address], green: [green.address] },
      { blue: 100, green: 0 },
      {
        statePath: `${stateDir()}/state.json`,
        service: {
          drainSeconds: 5,
          healthChecks: [
            { protocol: 'HTTP', path: '/endpoint0', gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 1, delaySeconds: 0 },
          ],
        },
      },
    ),
  )
  // Start-up transitions (starting → healthy) are over before the stream opens.
  const deadline = Date.now() + 15_000
  for (;;) {
    const view = (await admin(proxy.adminUrl, 'GET', '/v1/services/svc')).json
    const states = view.groups.flatMap((group: { instances: { state: string }[] }) => group.instances.map((i) => i.state))
    if (states.length === 2 && states.every((state: string) => state === 'healthy')) break
    if (Date.now() > deadline) throw new Error(`instances not healthy: ${states.join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const stream = await openEvents(proxy.adminUrl)
  const filtered = await openEvents(proxy.adminUrl, '?event_type=rollback&event_type=cutover_started')
  const weights = await admin(proxy.adminUrl, 'PUT', '/v1/services/svc/weights', { weights: { blue: 80, green: 20 }, reason: 'canary' })
  expect(weights.status).toBe(200)
  const cutover = await admin(proxy.adminUrl, 'POST', '/v1/services/svc/cutover', { to: 'green', drainSeconds: 5 })
  expect(cutover.status).toBe(200)
  await stream.waitFor('cutover_completed')
  const rollback = await admin(proxy.adminUrl, 'POST', '/v1/services/svc/rollback', { reason: 'oops' })
  expect(rollback.status).toBe(200)
  await stream.waitFor('rollback')
  green.started.child.kill('SIGKILL')
  const unhealthy = await stream.waitFor('health_changed', (event) => event.data.instance === green.address && event.data.to === 'unhealthy')

  const ours = stream.events.filter((event) => event.event !== 'health_changed' || event === unhealthy)
  expect(ours.map((event) => event.event)).toEqual(['weights_changed', 'cutover_started', 'cutover_completed', 'rollback', 'health_changed'])
  const [changed, started, completed, rolledBack] = ours.map((event) => event.data)
  for (const event of ours) {
    expect(event.data.eventType).toBe(event.event)
    expect(Number.isNaN(Date.parse(event.data.timestamp))).toBe(false)
  }
  expect(changed).toMatchObject({ service: 'svc', revision: 1, before: { blue: 100, green: 0 }, after: { blue: 80, green: 20 }, reason: 'canary' })
  expect(started).toMatchObject({ service: 'svc', revision: 2, to: 'green', from: ['blue'], drainSeconds: 5, before: { blue: 80, green: 20 }, after: { blue: 0, green: 100 } })
  expect(completed).toMatchObject({ service: 'svc', revision: 2, to: 'green', from: ['blue'], outcome: 'drained', cut: 0 })
  expect(completed.completed).toBe(completed.inflightAtStart)
  expect(rolledBack).toMatchObject({ service: 'svc', revision: 3, undid: 2, before: { blue: 0, green: 100 }, after: { blue: 80, green: 20 }, reason: 'oops' })
  expect(unhealthy.data).toMatchObject({ service: 'svc', group: 'green', instance: green.address, from: 'healthy', to: 'unhealthy' })

  // A filtered stream (Marathon's ?event_type=) got only the types it asked for.
  expect(filtered.events.map((event) => event.event)).toEqual(['cutover_started', 'rollback'])
  stream.close()
  filtered.close()
})
