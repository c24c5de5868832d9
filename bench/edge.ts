/**
 * TLS and HTTP/2 at the edge: zdd-proxy next to HAProxy, both with TLS on the same certificate
 * (ECDSA P-256, made with openssl in a scratch folder for the run and deleted after), and both
 * plain as the reference. Interleaved rounds; each load run measures the proxy's CPU time (its
 * process tree, /proc) per request, or per connection for handshakes:
 *
 *   h1        plain HTTP/1.1, keep-alive (h2load --h1)
 *   h1+tls    HTTP/1.1 over TLS, keep-alive (h2load --h1)
 *   h2        HTTP/2 over TLS (ALPN), `--streams` concurrent streams per connection (h2load)
 *   handshake a new TLS connection for every request, no resumption (2 × openssl s_time -new):
 *             the handshake's cost, one HTTP/1.0 request included
 *
 *   node dist/bench/edge.js [--rounds 3] [--duration 5] [--connections 64] [--streams 8] [--contenders zdd,haproxy]
 *
 * Needs h2load (Debian: nghttp2-client) and openssl; HAProxy is skipped with a notice when absent.
 * Every process is stopped by PID at the end, on an error and on Ctrl-C.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { backendAddress, startBackend } from './backends.js'
import { haproxyConfig } from './configs.js'
import { installCleanup, spawnChild, stopAllChildren } from './children.js'
import { freePort, scratchDir, standardGroups, startZdd, type Contender, type ContenderContext } from './contenders.js'
import { ProcSampler } from './procstat.js'
import { median } from './summary.js'
import { num, ratio, renderTable } from './table.js'

const run = promisify(execFile)

type LoadName = 'h1' | 'h1+tls' | 'h2' | 'handshake'

interface EdgeContender {
  /** `zdd` or `haproxy`. */
  readonly kind: string
  readonly tls: boolean
  readonly contender: Contender
  readonly port: number
}

interface Measurement {
  readonly round: number
  readonly kind: string
  readonly load: LoadName
  /** Requests (or connections, for handshakes) completed. */
  readonly count: number
  readonly seconds: number
  readonly failed: number
  readonly cpuSeconds: number
}

async function startHaproxy(name: string, backend: string, scratch: string, pem?: string): Promise<{ contender: Contender; port: number }> {
  const port = await freePort()
  const file = join(mkdtempSync(join(scratch, 'haproxy-')), 'haproxy.cfg')
  writeFileSync(file, haproxyConfig(port, backend, pem))
  const { child } = await spawnChild(name, 'haproxy', ['-db', '-f', file])
  // HAProxy says nothing when ready: wait for its port.
  for (let waited = 0; !(await accepts(port)); waited += 50) {
    if (waited > 10_000 || child.process.exitCode !== null) throw new Error(`${name} did not start: ${child.output().slice(-300)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    port,
    contender: { name, url: `http://127.0.0.1:${port}/`, pids: () => child.tree(), signal: (signal) => void child.process.kill(signal), output: () => child.output(), stop: () => child.stop() },
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Runs h2load for `seconds`; returns succeeded and failed requests. */
async function h2load(url: string, options: { h1: boolean; clients: number; streams: number; seconds: number }): Promise<{ count: number; failed: number; seconds: number }> {
  const args = ['-D', String(options.seconds), '-c', String(options.clients), '-m', String(options.streams), ...(options.h1 ? ['--h1'] : []), url]
  const { stdout } = await run('h2load', args, { maxBuffer: 1 << 20 })
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout)
  const finished = /finished in ([\d.]+)s/.exec(stdout)
  if (requests === null || finished === null) throw new Error(`h2load said: ${stdout.slice(-500)}`)
  return { count: Number(requests[1]), failed: Number(requests[2]) + Number(requests[3]) + Number(requests[4]), seconds: Number(finished[1]) }
}

/** Two `openssl s_time -new` at once: full handshakes, one HTTP/1.0 GET each. */
async function handshakes(port: number, path: string, seconds: number): Promise<{ count: number; failed: number; seconds: number }> {
  const one = () => run('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds), '-www', path], { maxBuffer: 1 << 20 })
  const outputs = await Promise.all([one(), one()])
  let count = 0
  for (const { stdout } of outputs) {
    const match = /(\d+) connections in ([\d.]+) real seconds/.exec(stdout)
    if (match === null) throw new Error(`openssl s_time said: ${stdout.slice(-300)}`)
    count += Number(match[1])
  }
  return { count, failed: 0, seconds }
}

/** The loads one contender takes. */
function loadsOf(contender: EdgeContender): LoadName[] {
  return contender.tls ? ['h1+tls', 'h2', 'handshake'] : ['h1']
}

async function measure(contender: EdgeContender, load: LoadName, args: { duration: number; connections: number; streams: number }, path: string) {
  const scheme = contender.tls ? 'https' : 'http'
  const url = `${scheme}://127.0.0.1:${contender.port}${path}`
  const sampler = new ProcSampler(() => contender.contender.pids())
  sampler.start()
  const result =
    load === 'handshake'
      ? await handshakes(contender.port, path, args.duration)
      : load === 'h2'
        ? await h2load(url, { h1: false, clients: Math.max(1, Math.round(args.connections / args.streams)), streams: args.streams, seconds: args.duration })
        : await h2load(url, { h1: true, clients: args.connections, streams: 1, seconds: args.duration })
  return { ...result, cpuSeconds: sampler.stop().cpuSeconds }
}

async function main(): Promise<void> {
  installCleanup()
  const args = await yargs(hideBin(process.argv))
    .scriptName('edge')
    .option('rounds', { alias: 'r', type: 'number', default: 3 })
    .option('duration', { alias: 'd', type: 'number', default: 5 })
    .option('connections', { alias: 'c', type: 'number', default: 64 })
    .option('streams', { type: 'number', default: 8, describe: 'concurrent streams per HTTP/2 connection' })
    .option('contenders', { type: 'string', default: 'zdd,haproxy' })
    .strict()
    .parseAsync()
  for (const tool of ['h2load', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      throw new Error(`${tool} is needed (Debian: apt-get install ${tool === 'h2load' ? 'nghttp2-client' : 'openssl'})`)
    }
  }
  const kinds = args.contenders.split(',').map((kind) => kind.trim())
  const scratch = scratchDir()
  const measurements: Measurement[] = []
  const notes: string[] = []
  try {
    const certDir = mkdtempSync(join(scratch, 'cert-'))
    const cert = join(certDir, 'cert.pem')
    const key = join(certDir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
    const pem = join(certDir, 'haproxy.pem')
    writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'))

    const backend = await startBackend('fixed', 2)
    const ctx: ContenderContext = { backend, scratch, workers: 1 }
    const contenders: EdgeContender[] = []
    if (kinds.includes('zdd')) {
      for (const tls of [false, true]) {
        const listen = { host: '127.0.0.1', port: 0, ...(tls ? { tls: { cert, key } } : {}) }
        const contender = await startZdd(tls ? 'zdd-proxy tls' : 'zdd-proxy', standardGroups(backend), ctx, { service: { listen } })
        contenders.push({ kind: 'zdd', tls, contender, port: Number(new URL(contender.url).port) })
      }
    }
    if (kinds.includes('haproxy')) {
      try {
        execFileSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' })
        for (const tls of [false, true]) {
          const started = await startHaproxy(tls ? 'haproxy tls' : 'haproxy', backendAddress(backend), scratch, tls ? pem : undefined)
          contenders.push({ kind: 'haproxy', tls, contender: started.contender, port: started.port })
        }
      } catch (error) {
        notes.push(`haproxy skipped: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
      }
    }
    for (let round = 1; round <= args.rounds; round++) {
      for (const load of ['h1', 'h1+tls', 'h2', 'handshake'] as const) {
        for (const contender of contenders) {
          if (!loadsOf(contender).includes(load)) continue
          const result = await measure(contender, load, args, backend.path)
          measurements.push({ round, kind: contender.kind, load, ...result })
          if (process.env.BENCH_PROGRESS === '1' || process.stderr.isTTY) {
            process.stderr.write(`round ${round} ${load} ${contender.contender.name}: ${Math.round(result.count / result.seconds)}/s, ${num((result.cpuSeconds * 1e6) / Math.max(1, result.count), 1)} us CPU each\n`)
          }
        }
      }
    }
  } finally {
    await stopAllChildren()
    rmSync(scratch, { recursive: true, force: true })
  }
  process.stdout.write(`${report(measurements, args.rounds)}\n${notes.map((note) => `${note}\n`).join('')}`)
  const out = fileURLToPath(new URL('../../bench/results', import.meta.url))
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, `edge-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), `${JSON.stringify({ args, measurements }, null, 2)}\n`)
}

/** Medians over rounds; `x haproxy` is HAProxy's CPU per request over zdd-proxy's, per round, then the median. */
function report(measurements: readonly Measurement[], rounds: number): string {
  const rows: string[][] = []
  for (const load of ['h1', 'h1+tls', 'h2', 'handshake'] as const) {
    for (const kind of ['zdd', 'haproxy']) {
      const mine = measurements.filter((m) => m.load === load && m.kind === kind)
      if (mine.length === 0) continue
      const rate = median(mine.map((m) => m.count / m.seconds))
      const cpu = median(mine.map((m) => (m.cpuSeconds * 1e6) / Math.max(1, m.count)))
      const perRound: number[] = []
      for (let round = 1; round <= rounds; round++) {
        const z = measurements.find((m) => m.round === round && m.load === load && m.kind === 'zdd')
        const h = measurements.find((m) => m.round === round && m.load === load && m.kind === 'haproxy')
        if (z !== undefined && h !== undefined) perRound.push((h.cpuSeconds / Math.max(1, h.count)) / (z.cpuSeconds / Math.max(1, z.count)))
      }
      const failed = mine.reduce((sum, m) => sum + m.failed, 0)
      rows.push([load, kind === 'zdd' ? 'zdd-proxy' : 'haproxy (1 thread)', num(rate), num(cpu, 1), kind === 'zdd' && perRound.length > 0 ? ratio(median(perRound)) : '', String(failed)])
    }
  }
  const header = ['load', 'contender', 'req/s (conn/s)', 'CPU us/req (/conn)', 'eff x haproxy', 'failed']
  return `${renderTable(header, rows)}\n(medians of ${rounds} rounds; handshake rows count TLS connections, each with one request)`
}

main().catch(async (error: unknown) => {
  process.stderr.write(`edge: ${error instanceof Error ? error.message : String(error)}\n`)
  await stopAllChildren(2_000)
  process.exit(1)
})
