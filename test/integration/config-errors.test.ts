import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, stopAll } from '../helpers/processes.js'

/** A fixture path relative to the working directory, as a user would type it. */
const fixture = (name: string) => relative(process.cwd(), fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url)))

const cases: { desc: string; file: string; expected: string }[] = [
  { desc: 'negative weight', file: 'negative-weight.json', expected: 'services[0].weights.1.0: must be >= 0' },
  { desc: 'unknown key', file: 'unknown-key.json', expected: 'services[0].stickyy: unknown key (did you mean sticky?)' },
  { desc: 'group with srv and backends', file: 'srv-and-backends.json', expected: 'services[0].groups[1]: set either srv or backends, not both' },
  { desc: 'missing environment variable', file: 'missing-env.json', expected: 'admin.token: environment variable ZDD_CONFIG_TEST_UNSET_TOKEN is not set' },
  { desc: 'invalid JSON', file: 'invalid-json.json', expected: 'invalid JSON at line 6, column 3: expected a property name in double quotes, found "}"' },
  { desc: 'unknown group in weights', file: 'unknown-group.json', expected: 'services[0].weights.1.1: unknown group (groups: 0.9, 1.0)' },
  { desc: 'admin off loopback without token', file: 'admin-without-token.json', expected: 'admin.token: required when admin.host is not a loopback address' },
  { desc: 'pasted Marathon health check with a bad value', file: 'bad-health-check.json', expected: 'services[0].healthChecks[0].intervalSeconds: must be >= 1' },
  { desc: 'missing file', file: 'does-not-exist.json', expected: 'cannot read: no such file' },
]

describe('zdd-proxy serve with a broken config', () => {
  afterAll(stopAll)

  for (const { desc, file, expected } of cases) {
    it(`${desc}: exit 1 and one stderr line naming the field`, async () => {
      const path = fixture(file)
      const { code, stderr } = await runCli(['serve', '--config', path], { env: { ZDD_LOG_LEVEL: 'silent' } })
      expect(stderr).toBe(`zdd-proxy: ${path}: ${expected}\n`)
      expect(code).toBe(1)
    })
  }
})
