/**
 * The validated configuration after defaults are applied. `loadConfig()` is the only
 * producer; everything else reads these readonly shapes.
 */

export interface Config {
  readonly admin?: AdminConfig
  /** One JSON line per request; absent: no access log. */
  readonly accessLog?: AccessLogConfig
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
  /** Bearer token reads need (the admin token works too); absent: reads are open. */
  readonly readToken?: string
  /** Event streams (`/v1/events`) open at once; more get 503. */
  readonly maxEventStreams: number
}

export interface AccessLogConfig {
  /** A file to append to, or `-` for stdout. */
  readonly path: string
  /** Share of requests logged, 0 to 1. */
  readonly sample: number
}

export type StateConfig = FileStateConfig | EtcdStateConfig

/** One JSON file, written atomically: for a single proxy. */
export interface FileStateConfig {
  readonly store: 'file'
  readonly path: string
}

/** etcd, shared by every replica: changes are compare-and-set, every replica watches and applies them. */
export interface EtcdStateConfig {
  readonly store: 'etcd'
  /** `http://host:port` of the etcd members. */
  readonly endpoints: readonly string[]
  /** Every key lives under it; ends with `/`. */
  readonly prefix: string
  /** The last applied state, written atomically after each change, served from when etcd is down at start. */
  readonly cachePath: string
  /** This replica's name among the others; default `<hostname>-<pid>`. */
  readonly replicaId?: string
  /** TTL of the lease under which this replica's membership and drain reports live. */
  readonly leaseSeconds: number
  /** How long one etcd call may take before the store counts as unavailable. */
  readonly timeoutMs: number
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
  /** Client connections open at once; more are refused. */
  readonly maxConnections: number
  /** TLS on this listener; absent: plain HTTP. */
  readonly tls?: TlsConfig
  /** On a TLS listener, offer HTTP/2 through ALPN (HTTP/1.1 stays available). */
  readonly http2: boolean
  /** On a plain listener, accept HTTP/2 with prior knowledge (h2c) next to HTTP/1.1. */
  readonly h2c: boolean
}

/** A certificate chain and its private key, as PEM file paths. */
export interface CertificateFiles {
  /** PEM file with the certificate, then the intermediates. */
  readonly cert: string
  /** PEM file with the certificate's private key. */
  readonly key: string
}

export interface TlsConfig extends CertificateFiles {
  /** The oldest protocol version accepted. */
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3'
}

/** A virtual host with its own certificate, chosen by SNI. */
export interface VhostCertificate extends CertificateFiles {
  /** The host name (lower case), as in `vhosts`. */
  readonly host: string
}

export interface GroupConfig {
  readonly name: string
  /** DNS SRV name; exactly one of srv and instances is set. */
  readonly srv?: string
  /** Static `host:port` list (`backends` in older configs). */
  readonly instances?: readonly string[]
}

export type StickyBy = 'cookie' | 'header' | 'ip' | 'none'

export interface StickyConfig {
  readonly by: StickyBy
  readonly cookie: string
  readonly header: string
}

export interface OverrideConfig {
  /** Request header naming a group; empty string (the default) disables it. */
  readonly header: string
  /** Cookie naming a group (`GROUP` or `GROUP:SECRET`); empty string (the default) disables it. */
  readonly cookie: string
  /** `weighted`: only groups with weight > 0; `any`: weight-0 groups too (dark launches). */
  readonly allow: 'weighted' | 'any'
  /** When set, an override counts only with this secret (header `x-zdd-override-secret`, or the cookie's `:SECRET`). */
  readonly secret?: string
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
  /** An upstream response body that sends nothing for this long is cut. */
  readonly idleMs: number
  /** A request waiting for a free connection to its instance longer than this gets another instance or a 503. */
  readonly queueMs: number
  /** A client that reads nothing of its response for this long is closed, and its upstream connection freed. */
  readonly sendMs: number
}

/** What one instance takes at most from one proxy process (a worker counts as its own process). */
export interface LimitsConfig {
  /** Upstream connections to one instance (requests sent at once). */
  readonly connectionsPerInstance: number
  /** Requests waiting for one of those connections; beyond it a request goes elsewhere or gets a 503. */
  readonly queuePerInstance: number
  /** Request bodies up to this size are read whole before an upstream connection is taken (0: never). */
  readonly requestBufferBytes: number
}

/** Passive outlier ejection: the data plane reports outcomes, the health module ejects. */
export interface OutlierDetectionConfig {
  /** Failed attempts in a row (connect, reset, timeout) that eject an instance; 0 turns it off. */
  readonly consecutiveFailures: number
  /** 5xx responses in a row that eject an instance; 0 turns it off. */
  readonly consecutive5xx: number
  /** The first ejection lasts this long; the n-th lasts n times as long, up to maxEjectionSeconds. */
  readonly baseEjectionSeconds: number
  readonly maxEjectionSeconds: number
  /** At most this share of a group's instances is ejected at a time (panic guard). */
  readonly maxEjectionPercent: number
  /** An ejected instance whose active health check passes is back at once. */
  readonly unejectOnPassingCheck: boolean
}

/** Methods that may be retried after the request was sent (reset or timeout before any response byte). */
export type RetryMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'PUT' | 'DELETE'

export interface ServiceConfig {
  readonly name: string
  readonly listen: ListenConfig
  /** Host names (no port, lower case) this service answers on a shared port; empty: any. */
  readonly vhosts: readonly string[]
  /** Vhosts that bring their own certificate (SNI); the others get the service's `listen.tls`. */
  readonly vhostCertificates: readonly VhostCertificate[]
  readonly groups: readonly GroupConfig[]
  /** Initial weights per group name; groups left out get 0. Defaults to equal weights. */
  readonly weights: Readonly<Record<string, number>>
  readonly sticky: StickyConfig
  readonly override: OverrideConfig
  readonly healthChecks: readonly HealthCheckConfig[]
  readonly readinessChecks: readonly ReadinessCheckConfig[]
  /** Extra attempts on another instance after a failed connect. */
  readonly retries: number
  /** Retried after a reset or timeout once sent (no body, no response byte yet), at most once. */
  readonly retryMethods: readonly RetryMethod[]
  /** Retries allowed as a percentage of the service's requests (sliding 10 s window). */
  readonly retryBudgetPercent: number
  readonly outlierDetection: OutlierDetectionConfig
  /**
   * A request whose group has no live instance, or whose connect failed with no other instance of
   * the group left, goes to another group by weight (the client keeps its sticky key).
   */
  readonly redispatch: boolean
  readonly limits: LimitsConfig
  /** A newly live instance's share ramps up linearly over this time; 0 turns it off. */
  readonly slowStartSeconds: number
  readonly timeouts: TimeoutsConfig
  readonly exposeGroupHeader: boolean
  /** How long a group or instance leaving rotation may keep in-flight requests. */
  readonly drainSeconds: number
  readonly observedShare: ObservedShareConfig
}

/** Split accuracy: observed shares of requests and clients, and when a drift is reported. */
export interface ObservedShareConfig {
  /** The window the shares are observed over. */
  readonly windowSeconds: number
  /** A group's share of distinct clients this far (0..1) from its configured share is a drift. */
  readonly maxDrift: number
  /** Fewer distinct clients in the window than this: too few to judge a drift. */
  readonly minClients: number
}
