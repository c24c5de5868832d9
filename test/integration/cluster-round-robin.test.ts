/**
 * Pins the node:cluster behaviour `serve --workers` relies on (see test/fixtures/cluster/round-robin.mjs):
 * the restart must start the new worker before stopping the old one, because the primary queues
 * nothing once no worker listens.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { startProcess, stopAll } from '../helpers/processes.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/cluster/round-robin.mjs', import.meta.url))

afterAll(stopAll)

it('shares the primary-bound port among workers, refuses nothing while one listens, refuses once none does', async () => {
  const run = await startProcess(process.execPath, [FIXTURE], { waitFor: /^\{"ports".*$/m })
  const seen = JSON.parse(run.match[0]) as { ports: number[]; whileOneListens: string[]; whileNoneListens: string }
  expect(seen.ports[0]).toBeGreaterThan(0)
  expect(seen.ports[1]).toBe(seen.ports[0])
  expect(seen.whileOneListens).toEqual(['two', 'two', 'two'])
  expect(seen.whileNoneListens).toBe('ECONNREFUSED')
  expect(await run.exited).toBe(0)
})
