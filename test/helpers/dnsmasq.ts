/**
 * A real DNS server for tests: dnsmasq (Debian package `dnsmasq-base`) on 127.0.0.1, serving SRV and
 * A/AAAA records shaped like Mesos-DNS, on a free port below the ephemeral range (UDP and TCP, see
 * ports.ts), in the foreground, with its log captured. `setRecords()` rewrites the config and restarts it on the same port.
 *
 * What dnsmasq 2.90 answers (observed with node's resolver, `--no-resolv`, no upstream servers):
 * - a name in a `localDomains` domain (`--local=/mesos/`, the default here) that has no record:
 *   NXDOMAIN (node: ENOTFOUND); a known name asked for another type (AAAA of an A-only host, SRV of
 *   an A name): NOERROR with no answer (node: ENODATA). That is how Mesos-DNS behaves for its domain.
 * - any name outside those domains, and *every* unknown name or type when no local domain is set:
 *   REFUSED (node: EREFUSED, "EDE: not ready") since there is nowhere to forward it.
 * - A/AAAA answers carry `--local-ttl` (`ttlSeconds`, dnsmasq's default 0); SRV priority/weight as given.
 * - stopped (port closed): node gets ECONNREFUSED at once, and with several servers falls through to
 *   the next one.
 * - port already taken: it prints "failed to create listening socket … Address already in use" and
 *   exits 2; we then pick another port (first start) or retry the same one for a while (restart).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { restartablePort } from './ports.js'
import { startProcess, type Started } from './processes.js'

export interface SrvRecord {
  /** e.g. `_blue-zdd._tcp.marathon.mesos`. */
  readonly name: string
  /** e.g. `blue-zdd-8sqqy-s2.marathon.mesos`, or an IP literal. */
  readonly target: string
  readonly port: number
  readonly priority?: number
  readonly weight?: number
}

export interface HostRecord {
  readonly name: string
  /** IPv4 and/or IPv6 addresses (A and AAAA records). */
  readonly addresses: readonly string[]
}

export interface DnsRecords {
  readonly srv?: readonly SrvRecord[]
  readonly hosts?: readonly HostRecord[]
  /** Domains dnsmasq answers alone (NXDOMAIN/NODATA rather than REFUSED). Default `['mesos']`. */
  readonly localDomains?: readonly string[]
  /** TTL of A/AAAA answers (`--local-ttl`). Default 0, dnsmasq's own default. */
  readonly ttlSeconds?: number
}

export interface Dnsmasq {
  readonly port: number
  /** `127.0.0.1:PORT`, ready for `dns.servers`. */
  readonly server: string
  /** PID of the running dnsmasq, undefined while stopped. */
  readonly pid: number | undefined
  /** Replaces every record: rewrites the config and restarts dnsmasq on the same port. */
  setRecords(records: DnsRecords): Promise<void>
  /** Starts it again (same port, last records) after `stop()`. */
  start(): Promise<void>
  /** Stops dnsmasq (by PID) and removes its temporary files. Safe to call twice. */
  stop(): Promise<void>
  /** dnsmasq's log so far (of the current or last run). */
  output(): string
}

/** One Mesos-DNS style instance: `_APP._tcp.marathon.mesos` → `APP-SLUG-sN.marathon.mesos:port` → address. */
export interface MesosTask {
  readonly port: number
  readonly address?: string
}

/**
 * The SRV target name Mesos-DNS would give the `index`-th task of `app`: `APP-SLUG-sN.marathon.mesos`,
 * with a 5-letter slug derived from the port here (Mesos-DNS's is random per task).
 */
export function mesosTaskHost(app: string, port: number, index = 0): string {
  return `${app}-${port.toString(36).padStart(5, 'a')}-s${index + 1}.marathon.mesos`
}

/**
 * Records as Mesos-DNS would publish them for Marathon apps, keyed by Mesos-DNS app name
 * (`blue-zdd` for app `/zdd/blue`). Target names are derived from the port, so an instance keeps
 * its name across `setRecords()` calls.
 */
export function mesosRecords(apps: Readonly<Record<string, readonly MesosTask[]>>, ttlSeconds?: number): DnsRecords {
  const srv: SrvRecord[] = []
  const hosts: HostRecord[] = []
  for (const [app, tasks] of Object.entries(apps)) {
    tasks.forEach((task, i) => {
      const target = mesosTaskHost(app, task.port, i)
      srv.push({ name: `_${app}._tcp.marathon.mesos`, target, port: task.port, priority: 0, weight: 0 })
      hosts.push({ name: target, addresses: [task.address ?? '127.0.0.1'] })
    })
  }
  return ttlSeconds === undefined ? { srv, hosts } : { srv, hosts, ttlSeconds }
}

/** Starts dnsmasq serving `records` on a free 127.0.0.1 port. */
export async function startDnsmasq(records: DnsRecords = {}, options: { logQueries?: boolean } = {}): Promise<Dnsmasq> {
  const binary = findDnsmasq()
  let current = records
  let process_: Started | undefined
  let dir: string | undefined
  let lastOutput = ''

  const launch = async (port: number): Promise<Started> => {
    dir = await mkdtemp(join(tmpdir(), 'zdd-dnsmasq-'))
    const confFile = join(dir, 'dnsmasq.conf')
    await writeFile(confFile, renderConfig(current))
    const args = [
      '--keep-in-foreground',
      `--conf-file=${confFile}`,
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=127.0.0.1',
      `--port=${port}`,
      '--pid-file=',
      '--log-facility=-',
      // As root it would switch to "nobody"; staying root avoids needing that user in containers.
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ...(options.logQueries ? ['--log-queries'] : []),
    ]
    try {
      return await startProcess(binary, args, { waitFor: /started, version/, timeoutMs: 10_000 })
    } catch (error) {
      await removeDir()
      throw error
    }
  }
  const removeDir = async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    dir = undefined
  }

  // First start: a port that is free now may be taken before dnsmasq binds it, so retry with another.
  let port = 0
  for (let attempt = 1; process_ === undefined; attempt++) {
    port = await restartablePort({ udp: true })
    try {
      process_ = await launch(port)
    } catch (error) {
      if (attempt >= 5 || !isAddressInUse(error)) throw error
    }
  }

  const stop = async () => {
    const running = process_
    process_ = undefined
    if (running) {
      await running.stop('SIGTERM', 5_000)
      lastOutput = running.output()
    }
    await removeDir()
  }
  // A restart must keep the port the resolvers were given, so wait for it rather than moving.
  const start = async () => {
    if (process_) return
    for (let attempt = 1; ; attempt++) {
      try {
        process_ = await launch(port)
        return
      } catch (error) {
        if (attempt >= 30 || !isAddressInUse(error)) throw error
        await sleep(100)
      }
    }
  }

  return {
    port,
    server: `127.0.0.1:${port}`,
    get pid() {
      return process_?.pid
    },
    async setRecords(next) {
      current = next
      await stop()
      await start()
    },
    start,
    stop,
    output: () => process_?.output() ?? lastOutput,
  }
}

/** dnsmasq config lines for `records`; refuses values that could break out of a config line. */
export function renderConfig(records: DnsRecords): string {
  const lines: string[] = []
  for (const domain of records.localDomains ?? ['mesos']) lines.push(`local=/${safe(domain)}/`)
  lines.push(`local-ttl=${records.ttlSeconds ?? 0}`)
  for (const srv of records.srv ?? []) {
    lines.push(`srv-host=${safe(srv.name)},${safe(srv.target)},${srv.port},${srv.priority ?? 0},${srv.weight ?? 0}`)
  }
  for (const host of records.hosts ?? []) {
    lines.push(`host-record=${[host.name, ...host.addresses].map(safe).join(',')}`)
  }
  return lines.join('\n') + '\n'
}

function safe(value: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(value)) throw new Error(`not a DNS name or address: ${JSON.stringify(value)}`)
  return value
}

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && /Address (already )?in use/i.test(error.message)
}

function findDnsmasq(): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, 'dnsmasq'))) return join(dir, 'dnsmasq')
  }
  throw new Error('dnsmasq not found: install the Debian package dnsmasq-base (apt-get install -y dnsmasq-base)')
}

