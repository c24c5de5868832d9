import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandModule } from 'yargs'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/types.js'
import { createLogger } from '../support/log.js'
import { startProxy, type RunningProxy } from '../main.js'
import { startDemoEtcd, type DemoEtcd } from './demo-etcd.js'
import { runRolloutStory } from './demo-rollout.js'
import { CliError } from './errors.js'
import { DEFAULT_CONFIG_PATH, stopOnSignals } from './serve.js'

const CLI_PATH = fileURLToPath(new URL('./main.js', import.meta.url))
const READY_LINE = /listening on port (\d+)/
/** The extra version `--rollout` starts, failing a fifth of its requests. */
const ROLLOUT_FAILING_VERSION = '1.1'

interface DemoArgs {
  port: number
  'admin-port': number
  'admin-token'?: string
  replicas: number
  rollout: boolean
}

interface Instance {
  readonly child: ChildProcess
  readonly port: number
}

/** Starts one simpleservice process on a free loopback port and waits for its startup line. */
function startSimpleService(version: string, env: Readonly<Record<string, string>> = {}): Promise<Instance> {
  const child = spawn(process.execPath, [CLI_PATH, 'simpleservice'], {
    env: {
      ...process.env,
      PORT0: '0',
      HOST: '127.0.0.1',
      SIMPLE_SERVICE_VERSION: version,
      SIMPLE_SERVICE_QUIET: '1',
      ZDD_STOP_WITH_PARENT: '1',
      ...env,
    },
    // The open stdin pipe ends when the demo dies, however it dies: the instance then stops too.
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const match = READY_LINE.exec(text)
      if (match) {
        child.stdout!.removeAllListeners('data')
        child.stdout!.resume()
        resolve({ child, port: Number(match[1]) })
      }
    })
    child.once('exit', (code) => reject(new CliError(`simpleservice ${version} exited with code ${code}`)))
  })
}

/** Where a demo replica keeps its state: a file, or (with --replicas) the demo's etcd. */
type DemoState = { readonly file: string } | { readonly etcd: string; readonly replica: number; readonly cachePath: string }

/** The default config with its groups pointed at the demo's instances; replica N listens N ports up. */
function demoConfig(base: Config, args: DemoArgs, instances: ReadonlyMap<string, readonly number[]>, state: DemoState): Config {
  const [service, ...others] = base.services
  if (service === undefined || others.length > 0) throw new CliError('the demo expects one service in the default config')
  const offset = 'replica' in state ? state.replica - 1 : 0
  const shift = (port: number) => (port === 0 ? 0 : port + offset)
  return {
    ...base,
    admin: {
      maxEventStreams: 64,
      ...base.admin,
      host: '127.0.0.1',
      port: shift(args['admin-port']),
      ...(args['admin-token'] === undefined ? {} : { token: args['admin-token'] }),
    },
    state:
      'file' in state
        ? { store: 'file', path: state.file }
        : { store: 'etcd', endpoints: [state.etcd], prefix: '/zdd-demo/', cachePath: state.cachePath, replicaId: `demo-${state.replica}`, leaseSeconds: 10, timeoutMs: 2_000 },
    services: [
      {
        ...service,
        listen: { ...service.listen, host: '127.0.0.1', port: shift(args.port) },
        groups: [...new Set([...service.groups.map((group) => group.name), ...instances.keys()])].map((name) => ({
          name,
          instances: (instances.get(name) ?? []).map((instancePort) => `127.0.0.1:${instancePort}`),
        })),
        // A rollout starts from the old version alone.
        ...(args.rollout ? { weights: { '0.9': 100, '1.0': 0, [ROLLOUT_FAILING_VERSION]: 0 } } : {}),
      },
    ],
  }
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'run the canary lab on this machine: simpleservice 0.9 x3 and 1.0 x1, the proxy on :8080 at 80/20',
  builder: (yargs) =>
    yargs
      .option('port', { type: 'number', default: 8080, describe: 'proxy port on 127.0.0.1 (0: any free port)' })
      .option('admin-port', { type: 'number', default: 9090, describe: 'admin API port on 127.0.0.1 (0: any free port)' })
      .option('admin-token', { type: 'string', describe: 'Bearer token the admin API requires for changes (default: none, as it listens on loopback only)' })
      .option('replicas', {
        type: 'number',
        default: 1,
        describe: 'run N proxy replicas sharing their state in a local etcd (needs etcd on PATH); replica i listens on PORT+i-1 and ADMIN-PORT+i-1',
      })
      .option('rollout', {
        type: 'boolean',
        default: false,
        describe: 'also start 1.1 (failing 20 % of requests) at weight 0, then run two progressive rollouts under load: 1.0 to completion, 1.1 rolled back',
      }),
  handler: async (args) => {
    if (args['admin-token'] !== undefined && args['admin-token'].trim() === '') throw new CliError('--admin-token must not be empty', 2)
    if (!Number.isInteger(args.replicas) || args.replicas < 1 || args.replicas > 9) throw new CliError(`--replicas: expected a whole number from 1 to 9, got ${args.replicas}`, 2)
    const base = await loadConfig(DEFAULT_CONFIG_PATH)
    const versions = ['0.9', '0.9', '0.9', '1.0', ...(args.rollout ? [ROLLOUT_FAILING_VERSION] : [])]
    const started: Instance[] = []
    const stopInstances = async () => {
      await Promise.all(
        started.map(({ child }) =>
          child.exitCode === null && child.signalCode === null
            ? new Promise<void>((resolve) => {
                child.once('exit', () => resolve())
                child.kill('SIGTERM')
              })
            : Promise.resolve(),
        ),
      )
    }
    try {
      const envOf = (version: string): Record<string, string> => (version === ROLLOUT_FAILING_VERSION ? { FAIL_RATE: '0.2' } : {})
      for (const instance of await Promise.all(versions.map((version) => startSimpleService(version, envOf(version))))) started.push(instance)
    } catch (error) {
      await stopInstances()
      throw error
    }
    const ports = new Map<string, number[]>()
    started.forEach((instance, index) => {
      const version = versions[index]!
      ports.set(version, [...(ports.get(version) ?? []), instance.port])
    })
    // Weight changes through the admin API persist here (or in the demo's etcd) for the demo's lifetime.
    const stateDir = mkdtempSync(join(tmpdir(), 'zdd-demo-'))
    const removeState = () => rmSync(stateDir, { recursive: true, force: true })
    let etcd: DemoEtcd | undefined
    const proxies: RunningProxy[] = []
    /** Everything the demo started but its proxies. */
    const stopTheRest = async () => {
      await stopInstances()
      await etcd?.stop()
      removeState()
    }
    const stopProxies = async (graceMs: number) => {
      await Promise.all(proxies.map((proxy) => proxy.stop(graceMs)))
    }
    const stopAll = async () => {
      await stopProxies(5_000)
      await stopTheRest()
    }
    const configs: Config[] = []
    try {
      if (args.replicas > 1) etcd = await startDemoEtcd()
      for (let replica = 1; replica <= args.replicas; replica++) {
        const state: DemoState = etcd === undefined ? { file: join(stateDir, 'state.json') } : { etcd: etcd.endpoint, replica, cachePath: join(stateDir, `cache-${replica}.json`) }
        const config = demoConfig(base, args, ports, state)
        configs.push(config)
        // Written at once, so the banner and the rollout story come after the lines they follow.
        const logger = createLogger(args.replicas > 1 ? `zdd-proxy demo-${replica}` : 'zdd-proxy', { sync: true })
        try {
          proxies.push(await startProxy(config, logger))
        } catch (error) {
          throw new CliError(`cannot start the proxy on 127.0.0.1:${config.services[0]!.listen.port}: ${(error as Error).message}`)
        }
      }
    } catch (error) {
      await stopAll()
      throw error
    }
    const proxy = proxies[0]!
    const config = configs[0]!
    const proxyPort = proxy.ports.get(config.services[0]!.name)!
    const url = `http://127.0.0.1:${proxyPort}`
    const weights = Object.entries(config.services[0]!.weights)
      .map(([group, weight]) => `${group}=${weight}`)
      .join(' ')
    const adminUrl = `http://127.0.0.1:${proxy.adminPort}`
    const adminFlag = adminUrl === 'http://127.0.0.1:9090' ? '' : ` --admin ${adminUrl}`
    const lines = [
      '',
      `zdd-proxy demo: simpleservice 0.9 x3 (ports ${ports.get('0.9')?.join(', ')}) and 1.0 x1 (port ${ports.get('1.0')?.join(', ')})${args.rollout ? `, 1.1 x1 failing 20 % (port ${ports.get(ROLLOUT_FAILING_VERSION)?.join(', ')})` : ''}`,
      `proxy listening on ${url} with weights ${weights}`,
    ]
    if (etcd !== undefined) {
      lines.push(`${proxies.length} replicas sharing their desired state in etcd at ${etcd.endpoint} (prefix /zdd-demo/):`)
      proxies.forEach((replica, index) => {
        lines.push(`  demo-${index + 1}: proxy http://127.0.0.1:${replica.ports.get(config.services[0]!.name)}, admin http://127.0.0.1:${replica.adminPort}`)
      })
      const lastAdmin = `http://127.0.0.1:${proxies.at(-1)!.adminPort}`
      lines.push(
        '',
        'A change through one replica is seen by all:',
        `  npx zdd-proxy weights simpleservice 0.9=50 1.0=50 --admin ${adminUrl}`,
        `  npx zdd-proxy status --admin ${lastAdmin}            # same weights and revision, and the replicas`,
        `  curl -s ${lastAdmin}/v1/cluster`,
      )
    }
    lines.push(
      '',
      'Try:',
      `  curl -i ${url}/endpoint0`,
      `  curl -s -H 'x-zdd-group: 1.0' ${url}/endpoint0      # force the canary`,
      `  npx zdd-proxy canary-check ${url} 1000`,
      `  npx zdd-proxy canary-check ${url} 100 --requests 20   # stickiness`,
      '',
      `dashboard on ${adminUrl}/`,
      '',
      `admin API on ${adminUrl}${args['admin-token'] === undefined ? '' : ' (changes need the token: --token or ZDD_ADMIN_TOKEN)'}:`,
      `  npx zdd-proxy status${adminFlag}`,
      `  npx zdd-proxy weights simpleservice 0.9=50 1.0=50${adminFlag}`,
      `  npx zdd-proxy cutover simpleservice 1.0 --drain 5 --wait${adminFlag}`,
      `  npx zdd-proxy rollback simpleservice${adminFlag}`,
      '',
      'Ctrl-C stops everything the demo started.',
      '',
    )
    process.stdout.write(lines.join('\n'))
    const everything: RunningProxy = {
      ...proxy,
      stop: stopProxies,
    }
    stopOnSignals(everything, 5_000, stopTheRest)
    if (!args.rollout) return
    const print = (...text: string[]) => process.stdout.write(`${text.join('\n')}\n`)
    try {
      await runRolloutStory({ service: config.services[0]!.name, url, adminUrl, token: args['admin-token'], events: proxy.plane.events, print })
      print('The rollouts are over; the lab keeps running. Ctrl-C stops everything the demo started.')
    } catch (error) {
      print(`the rollout demo stopped: ${error instanceof Error ? error.message : String(error)}`)
    }
  },
}
