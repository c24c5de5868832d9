import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliError } from './errors.js'

/** One etcd member the demo started, on loopback. */
export interface DemoEtcd {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string
  stop(): Promise<void>
}

const READY = /ready to serve client requests/
/** etcd 3.4's critical and fatal log lines (`C |`, `F |`), e.g. a port already in use. */
const FATAL = /^.* [CF] \| .*$/m
const START_TIMEOUT_MS = 20_000

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, binary))) return join(dir, binary)
  }
  return undefined
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts a one-member etcd on free loopback ports with its data in a temporary directory (removed
 * by `stop()`), for `demo --replicas N`. Free ports rather than 2379, so an etcd already running
 * on this machine is left alone.
 */
export async function startDemoEtcd(): Promise<DemoEtcd> {
  const binary = findOnPath('etcd')
  if (binary === undefined) {
    throw new CliError('demo --replicas needs etcd on PATH (Debian: apt-get install etcd-server; or a release binary from the etcd project)')
  }
  // A port free a moment ago may be taken before etcd binds it (another program's outgoing
  // connection can be given it): then etcd stops at once, and it is tried again on other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(binary, await freePort(), await freePort())
    } catch (error) {
      if (attempt >= 3 || !(error instanceof CliError) || !/address already in use/i.test(error.message)) throw error
    }
  }
}

async function startOn(binary: string, client: number, peer: number): Promise<DemoEtcd> {
  const dataDir = mkdtempSync(join(tmpdir(), 'zdd-demo-etcd-'))
  // Through a shell that stops etcd when its stdin pipe from the demo ends, however the demo ends.
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'etcd="$1"; shift; "$etcd" "$@" & pid=$!; read _; kill $pid; wait $pid',
      'sh',
      binary,
      '--name=demo',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=demo=http://127.0.0.1:${peer}`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  let log = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CliError(`etcd did not start within ${START_TIMEOUT_MS / 1000} s:\n${log.slice(-2000)}`)), START_TIMEOUT_MS)
      const onData = (chunk: Buffer) => {
        log += chunk.toString('utf8')
        if (READY.test(log)) {
          clearTimeout(timer)
          resolve()
        } else if (FATAL.test(log)) {
          clearTimeout(timer)
          reject(new CliError(`etcd could not start: ${FATAL.exec(log)![0]}`))
        }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new CliError(`etcd exited with code ${code} at start:\n${log.slice(-2000)}`))
      })
    })
  } catch (error) {
    await stop()
    throw error
  }
  // Keep reading its output so a full pipe never stalls it.
  child.stdout!.resume()
  child.stderr!.resume()
  child.stdout!.removeAllListeners('data')
  child.stderr!.removeAllListeners('data')
  return { endpoint: `http://127.0.0.1:${client}`, stop }
}
