/**
 * `zdd-proxy demo --rollout`: the lab runs a healthy 1.0's rollout to completion and rolls back a
 * 1.1 that fails a fifth of its requests, printing each step. Whatever the random failures, 1.1
 * cannot pass all three steps: its 50 % step alone sees ~250 requests, and 1 % errors allows 2.
 */
import { afterAll, expect, it } from 'vitest'
import { startCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles, tempDir } from '../helpers/proxy.js'

afterAll(async () => {
  await stopAll()
  removeTempFiles()
})

it('rolls 1.0 out to a drained cut-over, and 1.1 back, printing as it goes', async () => {
  const demo = await startCli(['demo', '--rollout', '--port', '0', '--admin-port', '0'], {
    waitFor: /The rollouts are over|the rollout demo stopped: .*/,
    timeoutMs: 150_000,
    // stopAll kills it: its state directory goes inside one removeTempFiles removes.
    env: { TMPDIR: tempDir() },
  })
  expect(demo.match[0]).toBe('The rollouts are over')
  // The demo's printed lines, without the proxy's JSON log lines between them.
  const printed = demo.output().split('\n').filter((line) => !line.startsWith('{')).join('\n')
  const story = printed.slice(printed.indexOf('rollout 1 of 2'))
  expect(story).toMatch(/started: 1\.0 at 10 % \(0\.9=90 1\.0=10 1\.1=0\)/)
  expect(story).toMatch(/step 2 passed: +canary \d+ req/)
  expect(story).toMatch(/old side drained\n {2}completed: 1\.0 takes 100 % \(0\.9=0 1\.0=100 1\.1=0\)/)
  expect(story).toMatch(/rollout 2 of 2: 1\.1/)
  expect(story).toMatch(/FAILED at step [123]: canary error rate \d+\.\d+ % above the limit of 1\.00 %/)
  expect(story).toMatch(/rolled back at once to 0\.9=0 1\.0=100 1\.1=0/)
  // Only the failing canary failed anything.
  expect(story).toMatch(/failed \(5xx or no answer\) by version: 1\.1: \d+\n/)
}, 180_000)
