import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandModule } from 'yargs'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/types.js'
import { createLogger } from '../support/log.js'
import { startProxy } from '../main.js'
import { CliError } from './errors.js'
import { DEFAULT_CONFIG_PATH, stopOnSignals } from './serve.js'

const CLI_PATH = fileURLToPath(new URL('./main.js', import.meta.url))
const READY_LINE = /listening on port (\d+)/

interface DemoArgs {
  port: number
  'admin-port': number
  'admin-token'?: string
}

interface Instance {
  readonly child: ChildProcess
  readonly port: number
}

/** Starts one simpleservice process on a free loopback port and waits for its startup line. */
function startSimpleService(version: string): Promise<Instance> {
  const child = spawn(process.execPath, [CLI_PATH, 'simpleservice'], {
    env: {
      ...process.env,
      PORT0: '0',
      HOST: '127.0.0.1',
      SIMPLE_SERVICE_VERSION: version,
      SIMPLE_SERVICE_QUIET: '1',
      ZDD_STOP_WITH_PARENT: '1',
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

/** The default config with its groups pointed at the demo's instances. */
function demoConfig(base: Config, args: DemoArgs, instances: ReadonlyMap<string, readonly number[]>, statePath: string): Config {
  const [service, ...others] = base.services
  if (service === undefined || others.length > 0) throw new CliError('the demo expects one service in the default config')
  return {
    ...base,
    admin: {
      maxEventStreams: 64,
      ...base.admin,
      host: '127.0.0.1',
      port: args['admin-port'],
      ...(args['admin-token'] === undefined ? {} : { token: args['admin-token'] }),
    },
    state: { store: 'file', path: statePath },
    services: [
      {
        ...service,
        listen: { ...service.listen, host: '127.0.0.1', port: args.port },
        groups: service.groups.map((group) => ({
          name: group.name,
          instances: (instances.get(group.name) ?? []).map((instancePort) => `127.0.0.1:${instancePort}`),
        })),
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
      .option('admin-token', { type: 'string', describe: 'Bearer token the admin API requires for changes (default: none, as it listens on loopback only)' }),
  handler: async (args) => {
    if (args['admin-token'] !== undefined && args['admin-token'].trim() === '') throw new CliError('--admin-token must not be empty', 2)
    const base = await loadConfig(DEFAULT_CONFIG_PATH)
    const versions = ['0.9', '0.9', '0.9', '1.0']
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
      for (const instance of await Promise.all(versions.map(startSimpleService))) started.push(instance)
    } catch (error) {
      await stopInstances()
      throw error
    }
    const ports = new Map<string, number[]>()
    started.forEach((instance, index) => {
      const version = versions[index]!
      ports.set(version, [...(ports.get(version) ?? []), instance.port])
    })
    // Weight changes through the admin API persist here for the demo's lifetime.
    const stateDir = mkdtempSync(join(tmpdir(), 'zdd-demo-'))
    const removeState = () => rmSync(stateDir, { recursive: true, force: true })
    const config = demoConfig(base, args, ports, join(stateDir, 'state.json'))
    const logger = createLogger('zdd-proxy')
    let proxy
    try {
      proxy = await startProxy(config, logger)
    } catch (error) {
      await stopInstances()
      removeState()
      throw new CliError(`cannot start the proxy on 127.0.0.1:${args.port}: ${(error as Error).message}`)
    }
    const proxyPort = proxy.ports.get(config.services[0]!.name)!
    const url = `http://127.0.0.1:${proxyPort}`
    const weights = Object.entries(config.services[0]!.weights)
      .map(([group, weight]) => `${group}=${weight}`)
      .join(' ')
    const adminUrl = `http://127.0.0.1:${proxy.adminPort}`
    const adminFlag = adminUrl === 'http://127.0.0.1:9090' ? '' : ` --admin ${adminUrl}`
    process.stdout.write(
      [
        '',
        `zdd-proxy demo: simpleservice 0.9 x3 (ports ${ports.get('0.9')?.join(', ')}) and 1.0 x1 (port ${ports.get('1.0')?.join(', ')})`,
        `proxy listening on ${url} with weights ${weights}`,
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
      ].join('\n'),
    )
    stopOnSignals(proxy, 5_000, async () => {
      await stopInstances()
      removeState()
    })
  },
}
