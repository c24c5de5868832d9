/**
 * Reload without restart (SIGHUP, `POST /v1/reload`): the config file is read and checked whole
 * first (schema, certificates, what cannot change while running, new addresses free, the desired
 * state still valid); only then does every part follow it, in an order that never drops a
 * connection or a request:
 *
 * 1. the data side learns the config (pools, plans, counters, certificates; requests running keep
 *    what they started with);
 * 2. the control plane swaps services and groups (instances of removed groups drain), health
 *    restarts changed checks, discovery watches new and changed groups, and their first answers
 *    become a snapshot the data side routes by;
 * 3. then listeners open and close (a removed one finishes its requests).
 *
 * A config that fails step 0 changes nothing: the error is logged and returned with its field.
 */
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { loadCertificates, type Certificates } from './config/certificates.js'
import { ConfigError } from './config/errors.js'
import { loadConfig } from './config/load.js'
import type { Config } from './config/types.js'
import type { RunningDiscovery } from './control/discovery.js'
import type { ControlPlane } from './control/plane.js'
import type { ReloadSummary } from './control/ports.js'
import type { Control } from './control/start.js'
import { logWeightsFromState } from './control/weights-source.js'
import type { HealthMonitor } from './health/monitor.js'
import type { DataSide } from './main.js'
import type { Logger } from './support/log.js'
import { Serial } from './support/serial.js'

export interface ReloadParts {
  readonly path: string
  /** The config in force. */
  readonly config: Config
  readonly plane: ControlPlane
  readonly health: HealthMonitor
  readonly discovery: RunningDiscovery
  readonly control: Control
  readonly dataSide: DataSide
  /** Bound ports by service, updated by each reload. */
  readonly ports: Map<string, number>
  readonly logger: Logger
}

/** Runs reloads one at a time; see the module comment. */
export class ConfigReloader {
  #config: Config
  readonly #serial = new Serial()
  #stopped = false

  constructor(private readonly parts: ReloadParts) {
    this.#config = parts.config
  }

  /** Re-reads the config file and applies it whole, or rejects (a ConfigError names the field) and changes nothing. */
  reload(): Promise<ReloadSummary> {
    return this.#serial.run(() => this.#reload())
  }

  /** Waits for a running reload; later ones are refused. */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#serial.idle()
  }

  async #reload(): Promise<ReloadSummary> {
    const { path, logger } = this.parts
    const startedAt = performance.now()
    logger.info({ event: 'reload_started', file: path }, `reloading ${path}`)
    try {
      if (this.#stopped) throw new ConfigError(path, '', 'the proxy is stopping')
      const next = await loadConfig(path)
      refuseUnreloadable(this.#config, next, path)
      const certificates = await loadCertificates(next, path)
      await checkNewAddresses(this.#config, next, path)
      const summary = await this.parts.control.changes.exclusive(() => this.#apply(next, certificates))
      logger.info(
        { event: 'config_reloaded', file: path, ...summary.services, durationMs: Math.round(performance.now() - startedAt) },
        `config reloaded from ${path}`,
      )
      return summary
    } catch (error) {
      const field = error instanceof ConfigError ? error.field : undefined
      logger.error({ event: 'reload_failed', file: path, field, err: error instanceof Error ? error.message : String(error) }, 'config reload failed; the running config stays')
      throw error
    }
  }

  async #apply(next: Config, certificates: Certificates): Promise<ReloadSummary> {
    const { plane, health, discovery, control, dataSide, ports, logger, path } = this.parts
    // May refuse (a dropped group still has traffic): nothing has changed before this line.
    const weights = await control.changes.reload(next.services, path)
    const before = this.#config
    this.#config = next
    dataSide.reconfigure(next, certificates)
    plane.reconfigure(next, weights)
    health.markStarting()
    health.reconfigure(next.services)
    control.reconfigure(next)
    await discovery.reconfigure(next)
    // As at start: a new service's listener opens once its groups can serve (bounded).
    await health.settle()
    // Reading the spec applies the pending rebuild: the data side routes the new instances before a new listener opens.
    void plane.spec
    const listening = await dataSide.listen()
    const previous = new Map(ports)
    ports.clear()
    for (const { service, host, port } of listening) {
      ports.set(service, port)
      if (previous.get(service) !== port) logger.info({ event: 'listening', service, host, port }, 'proxy listening')
    }
    for (const certificate of certificates.summaries) logCertificate(logger, certificate)
    const differing = logWeightsFromState(plane, logger)
    return {
      file: path,
      services: compareServices(before, next),
      weightsFromState: differing,
      listening,
      certificates: certificates.summaries.map(({ file, subject, validTo, expired }) => ({ file, subject, validTo, expired })),
    }
  }
}

/** What the admin listener and the state store are cannot change under a running proxy. */
function refuseUnreloadable(running: Config, next: Config, source: string): void {
  const restart = 'cannot change while the proxy runs (restart it to apply this)'
  for (const field of ['host', 'port', 'maxEventStreams'] as const) {
    if (running.admin?.[field] !== next.admin?.[field]) throw new ConfigError(source, running.admin === undefined || next.admin === undefined ? ['admin'] : ['admin', field], restart)
  }
  if (JSON.stringify(running.state) !== JSON.stringify(next.state)) throw new ConfigError(source, ['state'], restart)
}

/** Binds each address the new config listens on and the running one does not, so a taken port fails the reload before anything changes. */
async function checkNewAddresses(running: Config, next: Config, source: string): Promise<void> {
  const key = (listen: { host: string; port: number }) => `${listen.host}|${listen.port}`
  const open = new Set(running.services.map((service) => key(service.listen)))
  const checked = new Set<string>()
  for (const [index, service] of next.services.entries()) {
    const { host, port } = service.listen
    if (port === 0 || open.has(key(service.listen)) || checked.has(key(service.listen))) continue
    checked.add(key(service.listen))
    const problem = await new Promise<string | undefined>((resolve) => {
      const probe = createServer()
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
      probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)))
    })
    if (problem !== undefined) throw new ConfigError(source, ['services', index, 'listen', 'port'], `cannot listen on ${host}:${port} (${problem})`)
  }
}

function compareServices(before: Config, after: Config): ReloadSummary['services'] {
  const old = new Map(before.services.map((service) => [service.name, JSON.stringify(service)]))
  const added: string[] = []
  const changed: string[] = []
  const unchanged: string[] = []
  for (const service of after.services) {
    const was = old.get(service.name)
    if (was === undefined) added.push(service.name)
    else if (was !== JSON.stringify(service)) changed.push(service.name)
    else unchanged.push(service.name)
  }
  const removed = before.services.filter((service) => !after.services.some((kept) => kept.name === service.name)).map((service) => service.name)
  // Settings outside the services (trusted proxies, DNS, access log) concern every service.
  if (JSON.stringify({ ...before, services: [] }) !== JSON.stringify({ ...after, services: [] })) return { added, removed, changed: [...changed, ...unchanged], unchanged: [] }
  return { added, removed, changed, unchanged }
}

/** One line per certificate in use; an expired one is a warning (clients will refuse it). */
export function logCertificate(logger: Logger, certificate: Certificates['summaries'][number]): void {
  const fields = { event: 'certificate', ...certificate }
  if (certificate.expired) logger.warn(fields, `certificate ${certificate.file} expired on ${certificate.validTo}`)
  else logger.info(fields, `certificate ${certificate.file} valid until ${certificate.validTo}`)
}
