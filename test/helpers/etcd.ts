/**
 * Real etcd for tests: Debian's `etcd-server` (/usr/bin/etcd) on free 127.0.0.1 ports, one member
 * or a cluster, each with its own data directory, in the foreground with its log captured. A member
 * can be killed and started again on the same ports and data (`kill()`, `start()`); `stop()` ends
 * every member this helper started (by PID) and removes the data.
 *
 * What etcd 3.4 does that the tests rely on:
 * - it prints "ready to serve client requests" once it answers; a member of a cluster only once
 *   the cluster has a leader, so the members of a cluster start together;
 * - a killed member restarted on its data directory rejoins (the --initial-cluster flags are ignored then);
 * - heartbeat 50 ms / election 500 ms here (defaults 100 / 1000) so a cluster elects quickly on loopback.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Etcd3 } from 'etcd3'
import { restartablePorts } from './ports.js'
import { startProcess, type Started } from './processes.js'

export interface EtcdMember {
  readonly name: string
  /** `http://127.0.0.1:PORT`, for `state.endpoints`. */
  readonly endpoint: string
  /** PID while running. */
  readonly pid: number | undefined
  /** SIGKILL (no goodbye to the cluster), like a crash. */
  kill(): Promise<void>
  /** Starts it again on the same ports and data. */
  start(): Promise<void>
  output(): string
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[]
  /** The member that is the raft leader now. */
  leader(): Promise<EtcdMember>
  /** Every member's endpoint. */
  readonly endpoints: string[]
  /** Stops every member and removes the data. Safe to call twice. */
  stop(): Promise<void>
}

const READY = /ready to serve client requests/

export function findEtcd(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'etcd'))) return join(dir, 'etcd')
  }
  return undefined
}

/** Starts `size` members (1 or 3) forming one cluster. */
export async function startEtcd(size = 1): Promise<EtcdCluster> {
  const binary = findEtcd()
  if (binary === undefined) throw new Error('etcd not found: install the Debian package etcd-server (apt-get install -y etcd-server)')
  const dir = await mkdtemp(join(tmpdir(), 'zdd-etcd-'))
  const token = `zdd-test-${process.pid}-${Date.now()}`
  const ports = await restartablePorts(size * 2)
  const specs = Array.from({ length: size }, (_, i) => ({ name: `m${i + 1}`, client: ports[2 * i]!, peer: ports[2 * i + 1]! }))
  const initialCluster = specs.map((spec) => `${spec.name}=http://127.0.0.1:${spec.peer}`).join(',')
  const running = new Map<string, Started>()
  const lastOutput = new Map<string, string>()

  const launch = async (spec: (typeof specs)[number]): Promise<void> => {
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${join(dir, spec.name)}`,
      `--listen-client-urls=http://127.0.0.1:${spec.client}`,
      `--advertise-client-urls=http://127.0.0.1:${spec.client}`,
      `--listen-peer-urls=http://127.0.0.1:${spec.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${spec.peer}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      '--initial-cluster-state=new',
      '--heartbeat-interval=50',
      '--election-timeout=500',
    ]
    // A port freed a moment ago may still be in TIME_WAIT for the peer listener: try again briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        running.set(spec.name, await startProcess(binary, args, { waitFor: READY, timeoutMs: 20_000 }))
        return
      } catch (error) {
        if (attempt >= 20 || !/address already in use/i.test(String(error))) throw error
        await sleep(250)
      }
    }
  }

  try {
    await Promise.all(specs.map(launch))
  } catch (error) {
    await Promise.all([...running.values()].map((started) => started.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
    throw error
  }

  const members: EtcdMember[] = specs.map((spec) => ({
    name: spec.name,
    endpoint: `http://127.0.0.1:${spec.client}`,
    get pid() {
      return running.get(spec.name)?.pid
    },
    async kill() {
      const started = running.get(spec.name)
      running.delete(spec.name)
      if (started === undefined) return
      await started.stop('SIGKILL')
      lastOutput.set(spec.name, started.output())
    },
    async start() {
      if (!running.has(spec.name)) await launch(spec)
    },
    output: () => running.get(spec.name)?.output() ?? lastOutput.get(spec.name) ?? '',
  }))

  let stopped = false
  return {
    members,
    async leader() {
      for (const member of members) {
        if (member.pid === undefined) continue
        const client = new Etcd3({ hosts: member.endpoint })
        try {
          const status = await client.maintenance.status()
          if (status.leader === status.header.member_id) return member
        } catch {
          // That member is not answering; ask the next.
        } finally {
          client.close()
        }
      }
      throw new Error('no etcd member says it is the leader')
    },
    endpoints: members.map((member) => member.endpoint),
    async stop() {
      if (stopped) return
      stopped = true
      await Promise.all([...running.values()].map((started) => started.stop('SIGTERM', 5_000)))
      running.clear()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
