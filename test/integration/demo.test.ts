import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startCli, stopAll, type Started } from '../helpers/processes.js'
import { removeTempFiles, tempDir, writeConfig } from '../helpers/proxy.js'

interface CanaryJson {
  clients: number
  versions: Record<string, number>
  stickyViolations: number
  errors: number
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

describe('zdd-proxy demo', () => {
  let demo: Started
  let url: string
  let instancePorts: number[]

  beforeAll(async () => {
    demo = await startCli(['demo', '--port', '0', '--admin-port', '0'], {
      waitFor: /ports ([\d, ]+)\) and 1\.0 x1 \(port (\d+)\)\nproxy listening on (http:\/\/127\.0\.0\.1:\d+)/,
      timeoutMs: 30_000,
    })
    instancePorts = [...demo.match[1]!.split(', '), demo.match[2]!].map(Number)
    url = demo.match[3]!
  })

  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  it('splits 1000 fixed clients 80/20 (share of 1.0 within 17-23 %)', async () => {
    // Fixed cookie ids make the split deterministic: rendezvous hashing has no per-process seed.
    const identities = writeConfig({
      format: 'zdd-canary-identities/1',
      clients: Array.from({ length: 1000 }, (_, i) => ({
        id: `client-${i}`,
        version: null,
        cookies: [{ name: 'zdd_client', value: `demo-client-${i}` }],
      })),
    })
    const result = await runCli(['canary-check', url, '--identities', identities, '--json'])
    const report = JSON.parse(result.stdout) as CanaryJson
    expect(report.clients).toBe(1000)
    expect(report.errors).toBe(0)
    const canaryShare = (report.versions['1.0'] ?? 0) / 1000
    expect(canaryShare).toBeGreaterThanOrEqual(0.17)
    expect(canaryShare).toBeLessThanOrEqual(0.23)
  })

  it('gives new clients the configured split, sticky over 20 requests each, with no error', async () => {
    const result = await runCli(['canary-check', url, '1000', '--requests', '20', '--json'])
    const report = JSON.parse(result.stdout) as CanaryJson
    expect(result.code).toBe(0)
    expect(report.stickyViolations).toBe(0)
    expect(report.errors).toBe(0)
    expect((report.versions['0.9'] ?? 0) + (report.versions['1.0'] ?? 0)).toBe(1000)
    // New clients get random ids: the canary count is Binomial(1000, 0.2), sd 12.6; ±68 is 5.4 sd
    // (false failure < 1e-7).
    expect(report.versions['1.0']).toBeGreaterThanOrEqual(200 - 68)
    expect(report.versions['1.0']).toBeLessThanOrEqual(200 + 68)
  })

  it('prints its banner after the start-up log lines', async () => {
    const lines = demo.output().split('\n')
    const banner = lines.findIndex((line) => line.startsWith('zdd-proxy demo:'))
    const lastStartLog = lines.findIndex((line) => line.includes('"event":"admin_listening"'))
    expect(lastStartLog).toBeGreaterThanOrEqual(0)
    expect(banner).toBeGreaterThan(lastStartLog)
  })

  it("prints the lab's first line", async () => {
    const result = await runCli(['canary-check', url, '10'])
    expect(result.stdout.split('\n')[0]).toMatch(/^Out of 10 clients of simpleservice \d+ saw version 0\.9( and \d+ saw version 1\.0)?$|^Out of 10 clients of simpleservice 10 saw version 1\.0$/)
  })

  it('stops everything it started on Ctrl-C', async () => {
    expect(await demo.stop('SIGINT')).toBe(0)
    for (const port of instancePorts) expect(await portRefuses(port)).toBe(true)
    expect(await portRefuses(Number(new URL(url).port))).toBe(true)
  })
})


describe('zdd-proxy demo killed with SIGKILL', () => {
  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  it('leaves no simpleservice behind: each stops when its stdin pipe from the demo ends', async () => {
    // Killed, it cannot remove its state directory: it makes it in one the test removes.
    const demo = await startCli(['demo', '--port', '0', '--admin-port', '0'], {
      waitFor: /ports ([\d, ]+)\) and 1\.0 x1 \(port (\d+)\)/,
      timeoutMs: 30_000,
      env: { TMPDIR: tempDir() },
    })
    const ports = [...demo.match[1]!.split(', '), demo.match[2]!].map(Number)
    await demo.stop('SIGKILL')
    const deadline = Date.now() + 10_000
    let open = ports
    while (open.length > 0 && Date.now() < deadline) {
      const refused = await Promise.all(open.map(portRefuses))
      open = open.filter((_, i) => !refused[i])
      if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(open).toEqual([])
  })
})

describe('zdd-proxy demo --replicas 3', () => {
  afterAll(async () => {
    await stopAll()
  })

  it('runs three replicas on one etcd: a weight change through one is seen by all', async () => {
    const demo = await startCli(['demo', '--replicas', '3', '--port', '0', '--admin-port', '0'], {
      waitFor: /demo-3: proxy (http:\/\/127\.0\.0\.1:\d+), admin (http:\/\/127\.0\.0\.1:\d+)/,
      timeoutMs: 40_000,
    })
    const admins = [...demo.output().matchAll(/demo-\d: proxy http:\/\/127\.0\.0\.1:\d+, admin (http:\/\/127\.0\.0\.1:\d+)/g)].map((match) => match[1]!)
    expect(admins).toHaveLength(3)
    const changed = await runCli(['weights', 'simpleservice', '0.9=50', '1.0=50', '--admin', admins[0]!])
    expect(changed.code, changed.stderr).toBe(0)
    const deadline = Date.now() + 10_000
    let status = ''
    while (Date.now() < deadline) {
      status = (await runCli(['status', '--admin', admins[2]!])).stdout
      if (status.includes('weights 0.9=50 1.0=50')) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(status).toContain('weights 0.9=50 1.0=50')
    expect(status).toMatch(/replicas: 3 on etcd/)
    expect(await demo.stop('SIGINT')).toBe(0)
  }, 60_000)

  it('says clearly when etcd is not on PATH', async () => {
    const result = await runCli(['demo', '--replicas', '3', '--port', '0', '--admin-port', '0'], { env: { PATH: '/nonexistent' } })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/demo --replicas needs etcd on PATH/)
  })
})
