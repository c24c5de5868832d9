/**
 * Active checks: one HTTP(S) or TCP probe of an instance, and how Marathon reads its result for
 * health checks and readiness checks. Each probe uses its own connection (no agent, no keep-alive)
 * and is bounded by its timeout; nothing outlives the probe.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect } from 'node:net'
import type { HealthCheckConfig, ReadinessCheckConfig } from '../config/types.js'
import type { InstanceAddress } from '../discovery/types.js'
import type { CheckOutcome } from './status.js'

/** What a probe saw: an HTTP status (final or 1xx), a TCP connect, or why it failed. */
export type ProbeResult =
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'connected' }
  | { readonly kind: 'error'; readonly reason: string }

/** A probe ready to run against one instance. */
export interface ProbeTarget {
  readonly protocol: 'http' | 'https' | 'tcp'
  readonly host: string
  readonly port: number
  readonly path: string
  readonly timeoutMs: number
}

/**
 * Where a health check probes: the instance's own host and port (the proxy knows one port per
 * instance, so `portIndex` has nothing else to pick), or Marathon's fixed `port` when set.
 * MESOS_* protocols are probed the same way from the proxy.
 */
export function healthProbeTarget(address: InstanceAddress, check: HealthCheckConfig): ProbeTarget {
  const protocol = check.protocol === 'TCP' || check.protocol === 'MESOS_TCP' ? 'tcp' : check.protocol.endsWith('HTTPS') ? 'https' : 'http'
  return { protocol, host: address.host, port: check.port ?? address.port, path: check.path, timeoutMs: check.timeoutSeconds * 1000 }
}

export function readinessProbeTarget(address: InstanceAddress, check: ReadinessCheckConfig): ProbeTarget {
  const protocol = check.protocol === 'HTTPS' ? 'https' : 'http'
  return { protocol, host: address.host, port: address.port, path: check.path, timeoutMs: check.timeoutSeconds * 1000 }
}

/** Runs one probe; never rejects. `signal` cuts it short (on shutdown) with an error result. */
export function probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
  return target.protocol === 'tcp' ? probeTcp(target, signal) : probeHttp(target, signal)
}

/** True when `address` accepts a TCP connection within `timeoutMs` (the connection is closed at once). */
export async function acceptsConnection(address: InstanceAddress, timeoutMs: number): Promise<boolean> {
  const result = await probeTcp({ protocol: 'tcp', host: address.host, port: address.port, path: '', timeoutMs }, undefined)
  return result.kind === 'connected'
}

const ABORTED: ProbeResult = Object.freeze({ kind: 'error', reason: 'aborted' })

function probeTcp(target: ProbeTarget, signal: AbortSignal | undefined): Promise<ProbeResult> {
  if (signal?.aborted) return Promise.resolve(ABORTED)
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port })
    const timer = setTimeout(() => finish({ kind: 'error', reason: `no connection within ${target.timeoutMs} ms` }), target.timeoutMs)
    timer.unref()
    const onAbort = () => finish(ABORTED)
    signal?.addEventListener('abort', onAbort, { once: true })
    function finish(result: ProbeResult): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve(result)
    }
    socket.once('connect', () => finish({ kind: 'connected' }))
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ kind: 'error', reason: error.code ?? error.message }))
  })
}

function probeHttp(target: ProbeTarget, signal: AbortSignal | undefined): Promise<ProbeResult> {
  if (signal?.aborted) return Promise.resolve(ABORTED)
  return new Promise((resolve) => {
    let settled = false
    const settle = (result: ProbeResult) => {
      if (settled) return
      settled = true
      resolve(result)
    }
    const options = {
      host: target.host,
      port: target.port,
      path: target.path,
      method: 'GET',
      // A fresh connection per probe, closed after it: nothing pooled can go stale.
      agent: false as const,
      headers: { 'user-agent': 'zdd-proxy-health', accept: '*/*' },
      // Marathon does not verify the certificates of instances it probes.
      rejectUnauthorized: false,
    }
    const req: ClientRequest = target.protocol === 'https' ? httpsRequest(options) : httpRequest(options)
    // Bounds the whole exchange, body included, so a stuck body cannot hold the socket.
    const timer = setTimeout(() => {
      settle({ kind: 'error', reason: `no response within ${target.timeoutMs} ms` })
      req.destroy()
    }, target.timeoutMs)
    timer.unref()
    const onAbort = () => {
      settle(ABORTED)
      req.destroy()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    req.once('close', () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    })
    req.on('information', (info: { statusCode: number }) => {
      // Marathon's client sees an informational answer as the result; ignoreHttp1xx decides.
      settle({ kind: 'status', status: info.statusCode })
      req.destroy()
    })
    req.once('response', (res: IncomingMessage) => {
      settle({ kind: 'status', status: res.statusCode ?? 0 })
      res.on('error', () => {})
      res.resume()
    })
    req.on('error', (error: NodeJS.ErrnoException) => settle({ kind: 'error', reason: error.code ?? error.message }))
    req.end()
  })
}

/** Marathon's reading of a health check: 2xx/3xx (or a TCP connect) pass; 1xx is ignored with ignoreHttp1xx. */
export function healthOutcome(result: ProbeResult, ignoreHttp1xx: boolean): { outcome: CheckOutcome; detail: string } {
  switch (result.kind) {
    case 'connected':
      return { outcome: 'pass', detail: 'connected' }
    case 'error':
      return { outcome: 'fail', detail: result.reason }
    case 'status':
      if (result.status >= 200 && result.status < 400) return { outcome: 'pass', detail: String(result.status) }
      if (result.status < 200 && ignoreHttp1xx) return { outcome: 'ignored', detail: String(result.status) }
      return { outcome: 'fail', detail: `status ${result.status}` }
  }
}

/** A readiness check passes when the status is one of httpStatusCodesForReady. */
export function readinessOutcome(result: ProbeResult, codes: readonly number[]): { ready: boolean; detail: string } {
  if (result.kind === 'status') return { ready: codes.includes(result.status), detail: `status ${result.status}` }
  return { ready: false, detail: result.kind === 'error' ? result.reason : 'connected' }
}
