/**
 * The validated configuration (DESIGN.md §2) after defaults are applied. `loadConfig()` is the only
 * producer; everything else reads these readonly shapes.
 */

export interface Config {
  readonly admin?: AdminConfig
  readonly state?: StateConfig
  readonly dns: DnsConfig
  /** CIDRs (or single addresses) of proxies whose X-Forwarded-* headers we extend instead of overwrite. */
  readonly trustedProxies: readonly string[]
  readonly services: readonly ServiceConfig[]
}

export interface AdminConfig {
  readonly host: string
  readonly port: number
  /** Bearer token for mutations; absent means none (then only loopback binds are allowed). */
  readonly token?: string
}

export interface StateConfig {
  readonly store: 'file'
  readonly path: string
}

export interface DnsConfig {
  /** host:port of DNS servers, tried in order. Empty means the system resolvers. */
  readonly servers: readonly string[]
  readonly timeoutMs: number
  readonly refreshMinSeconds: number
  readonly refreshMaxSeconds: number
}

export interface ListenConfig {
  readonly host: string
  readonly port: number
}

export interface GroupConfig {
  readonly name: string
  /** DNS SRV name; exactly one of srv and backends is set. */
  readonly srv?: string
  /** Static `host:port` list. */
  readonly backends?: readonly string[]
}

export type StickyBy = 'cookie' | 'header' | 'ip' | 'none'

export interface StickyConfig {
  readonly by: StickyBy
  readonly cookie: string
  readonly header: string
}

export interface OverrideConfig {
  /** Request header naming a group; empty string disables it. */
  readonly header: string
  /** Cookie naming a group; empty string disables it. */
  readonly cookie: string
}

/** Marathon's healthChecks block, as in an app definition. */
export interface HealthCheckConfig {
  readonly protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'MESOS_HTTP' | 'MESOS_HTTPS' | 'MESOS_TCP'
  readonly path: string
  readonly portIndex: number
  /** Probe this port instead of the instance's own (Marathon's `port`). */
  readonly port?: number
  readonly gracePeriodSeconds: number
  readonly intervalSeconds: number
  readonly timeoutSeconds: number
  readonly maxConsecutiveFailures: number
  readonly ignoreHttp1xx: boolean
  readonly delaySeconds: number
}

/** Marathon's readinessChecks block, as in an app definition. */
export interface ReadinessCheckConfig {
  readonly name: string
  readonly protocol: 'HTTP' | 'HTTPS'
  readonly path: string
  readonly portName: string
  readonly intervalSeconds: number
  readonly timeoutSeconds: number
  readonly httpStatusCodesForReady: readonly number[]
  readonly preserveLastResponse: boolean
}

export interface TimeoutsConfig {
  readonly connectMs: number
  readonly headersMs: number
  readonly idleMs: number
}

export interface ServiceConfig {
  readonly name: string
  readonly listen: ListenConfig
  /** Host names (no port, lower case) this service answers on a shared port; empty: any. */
  readonly vhosts: readonly string[]
  readonly groups: readonly GroupConfig[]
  /** Initial weights per group name; groups left out get 0. Defaults to equal weights. */
  readonly weights: Readonly<Record<string, number>>
  readonly sticky: StickyConfig
  readonly override: OverrideConfig
  readonly healthChecks: readonly HealthCheckConfig[]
  readonly readinessChecks: readonly ReadinessCheckConfig[]
  /** Extra attempts on another instance after a failed connect. */
  readonly retries: number
  readonly timeouts: TimeoutsConfig
  readonly exposeGroupHeader: boolean
  /** How long a group or instance leaving rotation may keep in-flight requests. */
  readonly drainSeconds: number
}
