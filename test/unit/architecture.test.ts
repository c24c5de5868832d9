/**
 * The import rules of the src/ layout (.dependency-cruiser.cjs), checked with dependency-cruiser's API
 * against the source (no build needed). Each rule also gets a self-check: a tiny fixture tree under
 * test/fixtures/architecture/<rule>/src that breaks it, so a rule that stops biting fails here too.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cruise, type ICruiseOptions, type IViolation } from 'dependency-cruiser'
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options'
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config'
import { beforeAll, describe, expect, it } from 'vitest'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CONFIG_FILE = join(REPO_ROOT, '.dependency-cruiser.cjs')
const TS_CONFIG_FILE = join(REPO_ROOT, 'tsconfig.json')
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'architecture')

/** Every rule the layout relies on; deleting or renaming one in the config fails this test. */
const REQUIRED_RULES = [
  'proxy-not-to-control-plane',
  'health-not-to-control-or-proxy',
  'control-not-to-proxy-or-health',
  'routing-is-pure',
  'routing-no-packages-or-builtins',
  'upstream-imports-config-and-routing-only',
  'primary-holds-no-data-plane',
  'worker-not-to-control-side',
  'lab-tools-stand-alone',
  'zod-only-in-validation',
  'validation-only-off-thread',
  'zod-not-reachable-from-entry-points',
  'etcd-client-only-in-state',
  'etcd-store-loaded-on-use',
  'no-orphans',
] as const

type RuleName = (typeof REQUIRED_RULES)[number]

/**
 * What cruising test/fixtures/architecture/<rule>/src reports, as `rule: from → to` lines with npm
 * targets shortened to `node_modules/<package>`. Most fixtures break exactly their own rule. Two rules
 * overlap by design: routing-is-pure also forbids packages and builtins, and any route to zod from an
 * entry point has to break zod-only-in-validation or validation-only-off-thread on its way.
 */
const EXPECTED: Record<RuleName, readonly string[]> = {
  'proxy-not-to-control-plane': [
    'proxy-not-to-control-plane: src/proxy/forward.ts → src/cluster/messages.ts',
    'proxy-not-to-control-plane: src/proxy/forward.ts → src/control/plane.ts',
    'proxy-not-to-control-plane: src/proxy/forward.ts → src/health/monitor.ts',
    'proxy-not-to-control-plane: src/proxy/forward.ts → src/state/store.ts',
  ],
  'health-not-to-control-or-proxy': [
    'health-not-to-control-or-proxy: src/health/monitor.ts → src/control/plane.ts',
    'health-not-to-control-or-proxy: src/health/monitor.ts → src/proxy/listener.ts',
  ],
  'control-not-to-proxy-or-health': [
    'control-not-to-proxy-or-health: src/control/plane.ts → src/health/monitor.ts',
    'control-not-to-proxy-or-health: src/control/plane.ts → src/proxy/listener.ts',
  ],
  'routing-is-pure': ['routing-is-pure: src/routing/table.ts → src/config/load.ts'],
  'routing-no-packages-or-builtins': [
    'routing-is-pure: src/routing/rendezvous.ts → node_modules/undici',
    'routing-is-pure: src/routing/rendezvous.ts → crypto',
    'routing-no-packages-or-builtins: src/routing/rendezvous.ts → node_modules/undici',
    'routing-no-packages-or-builtins: src/routing/rendezvous.ts → crypto',
  ],
  'upstream-imports-config-and-routing-only': [
    'upstream-imports-config-and-routing-only: src/upstream/pools.ts → events',
    'upstream-imports-config-and-routing-only: src/upstream/pools.ts → src/config/load.ts',
    'upstream-imports-config-and-routing-only: src/upstream/pools.ts → src/support/log.ts',
  ],
  'primary-holds-no-data-plane': ['primary-holds-no-data-plane: src/cluster/primary/start.ts → src/proxy/listener.ts'],
  'worker-not-to-control-side': [
    'worker-not-to-control-side: src/cluster/worker/worker.ts → src/control/plane.ts',
    'worker-not-to-control-side: src/cluster/worker/worker.ts → src/health/monitor.ts',
    'worker-not-to-control-side: src/cluster/worker/worker.ts → src/state/store.ts',
  ],
  'lab-tools-stand-alone': [
    'lab-tools-stand-alone: src/canary-check/run.ts → src/simpleservice/settings.ts',
    'lab-tools-stand-alone: src/simpleservice/server.ts → src/support/log.ts',
  ],
  'zod-only-in-validation': [
    'zod-only-in-validation: src/config/load.ts → node_modules/zod',
    'zod-only-in-validation: src/proxy/headers.ts → node_modules/zod',
  ],
  'validation-only-off-thread': ['validation-only-off-thread: src/config/load.ts → src/validation/config.ts'],
  'zod-not-reachable-from-entry-points': [
    'validation-only-off-thread: src/cluster/worker/worker.ts → src/validation/config.ts',
    'zod-not-reachable-from-entry-points: src/cli/serve.ts → node_modules/zod (via src/config/load.ts → node_modules/zod)',
    'zod-not-reachable-from-entry-points: src/cluster/worker/entry.ts → node_modules/zod (via src/cluster/worker/worker.ts → src/validation/config.ts → node_modules/zod)',
    'zod-only-in-validation: src/config/load.ts → node_modules/zod',
  ],
  'etcd-client-only-in-state': ['etcd-client-only-in-state: src/control/changes.ts → node_modules/etcd3'],
  'etcd-store-loaded-on-use': ['etcd-store-loaded-on-use: src/control/start.ts → src/state/etcd-store.ts'],
  'no-orphans': ['no-orphans: src/support/leftover.ts'],
}

/** One line per violation: `rule: from → to`, plus the import chain for reachability rules. */
function describeViolation(violation: IViolation, shorten: (path: string) => string = (path) => path): string {
  const head = `${violation.rule.name}: ${shorten(violation.from)}`
  if (violation.type === 'module' || violation.from === violation.to) return head
  const via = violation.via?.length ? ` (via ${violation.via.map((step) => shorten(step.name)).join(' → ')})` : ''
  return `${head} → ${shorten(violation.to)}${via}`
}

/** `node_modules/zod/index.d.cts` → `node_modules/zod`, so fixture expectations survive package upgrades. */
const packageOnly = (path: string): string => path.replace(/^(.*\/)?node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, 'node_modules/$2')

let options: ICruiseOptions
let tsConfig: ReturnType<typeof extractTSConfig>

/** Cruises `<baseDir>/src` with the project's rules; paths in the result are relative to baseDir. */
async function violationsUnder(baseDir: string): Promise<IViolation[]> {
  const { output } = await cruise(
    ['src'],
    { ...options, baseDir, tsConfig: { fileName: TS_CONFIG_FILE } },
    {},
    { tsConfig },
  )
  if (typeof output === 'string') throw new Error(`dependency-cruiser returned a report instead of a result: ${output}`)
  return output.summary.violations
}

beforeAll(async () => {
  options = await extractDepcruiseOptions(CONFIG_FILE)
  tsConfig = extractTSConfig(TS_CONFIG_FILE)
})

describe('import rules (.dependency-cruiser.cjs)', () => {
  it('still holds every rule of the layout, each with a name and a reason', () => {
    const forbidden = options.ruleSet?.forbidden ?? []
    const names = forbidden.map((rule) => rule.name)
    expect(names).toEqual(expect.arrayContaining([...REQUIRED_RULES]))
    for (const rule of forbidden) {
      expect(rule.name, 'every rule needs a name').toBeTruthy()
      expect(rule.comment, `rule ${rule.name} needs a comment saying why`).toBeTruthy()
    }
    // A rule without a fixture would never be shown to bite.
    expect([...names].sort()).toEqual([...REQUIRED_RULES].sort())
    expect(readdirSync(FIXTURES).sort()).toEqual([...REQUIRED_RULES].sort())
  })

  it('src/ breaks none of them', async () => {
    const lines = (await violationsUnder(REPO_ROOT)).map((violation) => describeViolation(violation))
    expect(lines, `src/ breaks ${lines.length} import rule(s):\n${lines.join('\n')}\n`).toEqual([])
  })

  describe.each(REQUIRED_RULES)('%s', (rule) => {
    it('is reported for a fixture tree that breaks it', async () => {
      const violations = await violationsUnder(join(FIXTURES, rule))
      const lines = violations.map((violation) => describeViolation(violation, packageOnly)).sort()
      expect(violations.map((violation) => violation.rule.name), `${rule} did not fire on its fixture`).toContain(rule)
      expect(lines).toEqual([...EXPECTED[rule]].sort())
    })
  })
})
