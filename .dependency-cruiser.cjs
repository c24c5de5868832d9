// Import rules for the src/ folder layout. Checked by `npm run lint:imports`
// and by test/unit/architecture.test.ts (which also proves every rule bites).
// Paths are relative to the repo root. Folders that do not exist yet simply
// match nothing.

/** Every flavour dependency-cruiser uses for an import that resolves into node_modules. */
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown']

/** The npm package zod, resolved (node_modules/zod/...) or, if it could not be resolved, by name. */
const ZOD = '(^|/)node_modules/zod/|^zod(/|$)'

/** The etcd client and the packages it brings (gRPC, its fault-handling policies), resolved or by name. */
const ETCD = '(^|/)node_modules/(etcd3|cockatiel|@grpc/[^/]+)/|^(etcd3|cockatiel|@grpc/[^/]+)(/|$)'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'proxy-not-to-control-plane',
      comment:
        'The data plane only reads routing snapshots and reports outcomes through ports, so the same proxy code serves both single-process and cluster mode.',
      severity: 'error',
      from: { path: '^src/proxy/' },
      to: { path: '^src/(control|health|state|cluster)/' },
    },
    {
      name: 'health-not-to-control-or-proxy',
      comment: 'Health checking reports what it sees through its own ports instead of reaching into the control or data plane.',
      severity: 'error',
      from: { path: '^src/health/' },
      to: { path: '^src/(control|proxy)/' },
    },
    {
      name: 'control-not-to-proxy-or-health',
      comment: 'The control plane talks to the data plane and to health checking only through ports that the wiring code fills in.',
      severity: 'error',
      from: { path: '^src/control/' },
      to: { path: '^src/(proxy|health)/' },
    },
    {
      name: 'routing-is-pure',
      comment: 'Routing is pure, deterministic code shared by every process, so it may only use itself and the config types.',
      severity: 'error',
      from: { path: '^src/routing/' },
      to: { pathNot: ['^src/routing/', '^src/config/types\\.ts$'] },
    },
    {
      name: 'routing-no-packages-or-builtins',
      comment: 'Routing must stay free of npm packages and node: builtins so it stays pure and cheap to load in every process.',
      severity: 'error',
      from: { path: '^src/routing/' },
      to: { dependencyTypes: [...NPM, 'core'] },
    },
    {
      name: 'upstream-imports-config-and-routing-only',
      comment: 'Upstream pools sit below the data plane and may only build on routing, the config types and npm packages such as undici.',
      severity: 'error',
      from: { path: '^src/upstream/' },
      to: {
        pathNot: ['^src/upstream/', '^src/config/types\\.ts$', '^src/routing/'],
        dependencyTypesNot: NPM,
      },
    },
    {
      name: 'primary-holds-no-data-plane',
      comment: 'The cluster primary only coordinates workers and never serves traffic itself, so it must not load the data plane.',
      severity: 'error',
      from: { path: '^src/cluster/primary/' },
      to: { path: '^src/proxy/' },
    },
    {
      name: 'worker-not-to-control-side',
      comment: 'Cluster workers run only the data plane and receive everything control-side from the primary over IPC.',
      severity: 'error',
      from: { path: '^src/cluster/worker/' },
      to: { path: '^src/(control|health|state)/' },
    },
    {
      name: 'lab-tools-stand-alone',
      comment: 'The simpleservice and canary-check lab tools must stay self-contained so they can be lifted out or run against any proxy.',
      severity: 'error',
      from: { path: '^src/(simpleservice|canary-check)/' },
      to: { path: '^src/', pathNot: '^src/$1/' },
    },
    {
      name: 'zod-only-in-validation',
      comment:
        'Having zod loaded costs every later request in that isolate ~4 % CPU, so only the off-thread validator uses it; canary-check, a client tool that its own command loads on use, may too.',
      severity: 'error',
      from: { pathNot: ['^src/validation/', '^src/canary-check/'] },
      to: { path: ZOD },
    },
    {
      name: 'validation-only-off-thread',
      comment:
        'The validators are loaded only by URL inside a worker thread, so a static import would pull zod onto the serving thread. A CLI command that needs them (config-schema) import()s them when it runs.',
      severity: 'error',
      from: { pathNot: '^src/validation/' },
      to: { path: '^src/validation/', dynamic: false },
    },
    {
      name: 'zod-not-reachable-from-entry-points',
      comment:
        'The serving processes (serve, its composition root, each cluster worker) must run without loading zod, even through a chain of imports.',
      severity: 'error',
      from: { path: '^src/(main|cli/serve|cluster/worker/entry)\\.ts$' },
      to: { path: ZOD, reachable: true },
    },
    {
      name: 'etcd-client-only-in-state',
      comment:
        'The etcd client stays behind the StateStore contract in src/state/, so the control side, the data plane and the CLI never depend on how the desired state is stored.',
      severity: 'error',
      from: { pathNot: '^src/state/' },
      to: { path: ETCD },
    },
    {
      name: 'etcd-store-loaded-on-use',
      comment: 'The etcd store pulls in gRPC; only a proxy configured with store "etcd" loads it (import() when used), a file-store proxy never does.',
      severity: 'error',
      from: { pathNot: '^src/state/' },
      to: { path: '^src/state/etcd-store\\.ts$', dynamic: false },
    },
    {
      name: 'no-orphans',
      comment: 'A source file that nothing imports and that imports nothing is dead code or a missed wiring step.',
      severity: 'error',
      from: { orphan: true },
      to: {},
    },
  ],
  options: {
    // node_modules is not followed, but must NOT be excluded: an excluded path vanishes from the
    // graph together with the imports that point at it, and the zod rules need to see those.
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
}
