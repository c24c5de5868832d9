/** Shared by the control-*.test.ts files: real proxy and simpleservice processes, admin calls, SSE. */

import { Agent, request } from 'undici'
import { readServerSentEvents } from '../../bench/sse.js'
import { startCli, type Started } from '../helpers/processes.js'
import { serviceConfig, tempDir, writeConfig } from '../helpers/proxy.js'

export const agent = new Agent({ keepAliveTimeout: 1_000, connections: 32 })

export interface Service {
  readonly started: Started
  readonly port: number
  readonly address: string
}

/** One simpleservice process on a free loopback port. */
export async function startSimpleService(version: string, env: Record<string, string> = {}): Promise<Service> {
  const started = await startCli(['simpleservice'], {
    env: { PORT0: '0', HOST: '127.0.0.1', SIMPLE_SERVICE_VERSION: version, SIMPLE_SERVICE_QUIET: '1', ...env },
    waitFor: /listening on port (\d+)/,
  })
  const port = Number(started.match[1])
  return { started, port, address: `127.0.0.1:${port}` }
}

export interface ControlledProxy extends Started {
  readonly url: string
  readonly adminUrl: string
  readonly configPath: string
}

/** Runs `zdd-proxy serve` on a config and waits for both the proxy and the admin listener. */
export async function startControlledProxy(config: unknown, env?: Record<string, string>, configPath?: string): Promise<ControlledProxy> {
  const path = configPath ?? writeConfig(config)
  const started = await startCli(['serve', '--config', path], {
    waitFor: /"event":"listening"[^\n]*"port":(\d+)[\s\S]*"event":"admin_listening"[^\n]*"port":(\d+)/,
    env,
  })
  return Object.assign(started, {
    url: `http://127.0.0.1:${started.match[1]}`,
    adminUrl: `http://127.0.0.1:${started.match[2]}`,
    configPath: path,
  })
}

/** A fresh directory for a state file, removed by `removeTempFiles`. */
export function stateDir(): string {
  return tempDir('zdd-state-')
}

/** A two-group config with admin on port 0; `extra` merges into the top level, `service` into the service. */
export function controlConfig(
  groups: Record<string, string[]>,
  weights: Record<string, number>,
  options: { statePath?: string; token?: string; service?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    admin: { host: '127.0.0.1', port: 0, ...(options.token === undefined ? {} : { token: options.token }) },
    ...(options.statePath === undefined ? {} : { state: { store: 'file', path: options.statePath } }),
    ...serviceConfig(groups, weights, options.service),
    ...options.extra,
  }
}

export interface AdminAnswer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  // Test code reads arbitrary JSON answers field by field.
  readonly json: any
}

/** One admin call. Mutations get `content-type: application/json` unless `headers` says otherwise. */
export async function admin(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<AdminAnswer> {
  const allHeaders: Record<string, string> = body === undefined ? { ...headers } : { 'content-type': 'application/json', ...headers }
  const response = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: allHeaders,
    body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    dispatcher: agent,
  })
  const text = await response.body.text()
  let json: unknown = text
  try {
    json = JSON.parse(text)
  } catch {
    // Metrics and other text answers stay strings.
  }
  return { status: response.statusCode, headers: response.headers, json }
}

/** GET through the proxy without cookies (a new client each time); returns status and group. */
export async function newClientGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; group: string }> {
  const response = await request(url, { headers, dispatcher: agent })
  await response.body.dump()
  return { status: response.statusCode, group: String(response.headers['x-zdd-group'] ?? '') }
}

/** `count` new-client requests, `concurrency` at a time; counts per group and non-200 answers. */
export async function sampleGroups(url: string, count: number, concurrency = 8): Promise<{ groups: Map<string, number>; failures: number }> {
  const groups = new Map<string, number>()
  let failures = 0
  let next = 0
  const worker = async () => {
    while (next < count) {
      next++
      const answer = await newClientGet(url)
      if (answer.status !== 200) failures++
      groups.set(answer.group, (groups.get(answer.group) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { groups, failures }
}

/** One SSE event as the admin API sends it, with when it arrived (performance.now()). */
export interface SseEvent {
  readonly event: string
  // Payloads are checked field by field.
  readonly data: any
  readonly at: number
}

/** A client of `GET /v1/events` that collects every event. */
export async function openEvents(adminUrl: string, query = ''): Promise<{ events: SseEvent[]; waitFor(type: string, match?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>; close(): void }> {
  const controller = new AbortController()
  const response = await request(`${adminUrl}/v1/events${query}`, { signal: controller.signal, dispatcher: agent })
  if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode}`)
  const events: SseEvent[] = []
  const waiters = new Set<() => void>()
  readServerSentEvents(response.body, (type, data, at) => {
    if (type === undefined) return
    events.push({ event: type, data: JSON.parse(data), at })
    for (const waiter of waiters) waiter()
  })
  response.body.on('error', () => {})
  return {
    events,
    waitFor(type, match = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find((event) => event.event === type && match(event))
          if (found === undefined) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no ${type} event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    close: () => controller.abort(),
  }
}

/** `writeConfig` reused for any JSON file (identities, state). */
export { writeConfig }
