/**
 * The config schema: field types, per-field rules and defaults. Rules that relate
 * several fields live in rules.ts. Input is the JSON after `${VAR}` expansion.
 */

import { z } from 'zod'
import {
  addressOrCidr,
  instanceAddress,
  cookieName,
  dnsServer,
  etcdEndpoint,
  etcdPrefix,
  flag,
  headerName,
  integer,
  listenHost,
  name,
  numeric,
  optionalCookieName,
  optionalHeaderName,
  port,
  positive,
  replicaId,
  srvName,
  strict,
  urlPath,
  vhost,
} from './config-fields.js'
import {
  checkAdmin,
  checkDns,
  checkGroup,
  checkListen,
  checkOverride,
  checkServices,
  checkState,
  renameBackends,
  resolveService,
  resolveState,
  splitVhosts,
} from './config-rules.js'
import type { Config } from '../config/types.js'

/**
 * Marathon's `healthChecks` item, accepted as pasted from an app definition. `ipProtocol` and
 * `command` are accepted and dropped: we probe over the instance's address, and COMMAND checks run
 * inside Mesos tasks, which a proxy cannot do. `port` is kept for a fixed-port probe.
 */
export const healthCheckSchema = strict({
  protocol: z.enum(['HTTP', 'HTTPS', 'TCP', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP']).default('HTTP'),
  path: urlPath.default('/'),
  portIndex: integer(0).default(0),
  port: integer(1, 65535).optional(),
  command: z.looseObject({ value: z.string() }).optional(),
  ipProtocol: z.enum(['IPv4', 'IPv6']).optional(),
  gracePeriodSeconds: integer(0).default(300),
  intervalSeconds: integer(1).default(60),
  timeoutSeconds: integer(1).default(20),
  maxConsecutiveFailures: integer(0).default(3),
  ignoreHttp1xx: flag.default(false),
  delaySeconds: integer(0).default(15),
}).transform(({ command: _command, ipProtocol: _ipProtocol, ...check }) => check)

/** Marathon's `readinessChecks` item, accepted as pasted from an app definition. */
export const readinessCheckSchema = strict({
  name: z.string().min(1).default('readinessCheck'),
  protocol: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
  path: urlPath.default('/'),
  portName: z.string().min(1).default('http-api'),
  intervalSeconds: integer(1).default(30),
  timeoutSeconds: integer(1).default(10),
  httpStatusCodesForReady: z
    .array(integer(100, 599))
    .min(1)
    .default(() => [200]),
  preserveLastResponse: flag.default(false),
})

const groupSchema = strict({
  name,
  srv: srvName.optional(),
  instances: z.array(instanceAddress).min(1).optional(),
  /** The older name of `instances`, still accepted. */
  backends: z.array(instanceAddress).min(1).optional(),
})
  .superRefine(checkGroup)
  .transform(renameBackends)

/** A PEM file path (`${VAR}` expanded); read, and re-read on every reload. */
const pemFile = z.string().min(1)

const certificateFiles = { cert: pemFile, key: pemFile }

const tlsSchema = strict({
  ...certificateFiles,
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
})

/** A vhost name, or a vhost with its own certificate (chosen by SNI). */
const vhostEntry = z.union([vhost, strict({ name: vhost, tls: strict(certificateFiles) })])

const serviceSchema = strict({
  name,
  listen: strict({
    host: listenHost.default('0.0.0.0'),
    port: port.default(8080),
    maxConnections: integer(1, 1_000_000).default(10_000),
    tls: tlsSchema.optional(),
    http2: flag.default(true),
    h2c: flag.default(false),
  })
    .superRefine(checkListen)
    .prefault({}),
  vhosts: z.array(vhostEntry).default(() => []),
  groups: z.array(groupSchema).min(1),
  // Checked against the group names in resolveService, which also fills in the default. Not a
  // z.record: that would turn a "__proto__" key into a prototype instead of an unknown group.
  weights: z.unknown().optional(),
  sticky: strict({
    by: z.enum(['cookie', 'header', 'ip', 'none']).default('cookie'),
    cookie: cookieName.default('zdd_client'),
    header: headerName.default('x-client-id'),
  }).prefault({}),
  override: strict({
    // Off unless configured: an override lets a client choose a version.
    header: optionalHeaderName.default(''),
    cookie: optionalCookieName.default(''),
    allow: z.enum(['weighted', 'any']).default('weighted'),
    secret: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  })
    .superRefine(checkOverride)
    .prefault({}),
  healthChecks: z.array(healthCheckSchema).default(() => []),
  readinessChecks: z.array(readinessCheckSchema).default(() => []),
  retries: integer(0, 5).default(1),
  retryMethods: z.array(z.enum(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])).default(() => ['GET' as const, 'HEAD' as const, 'OPTIONS' as const]),
  retryBudgetPercent: numeric(z.number().min(0).max(100)).default(20),
  outlierDetection: strict({
    consecutiveFailures: integer(0).default(1),
    consecutive5xx: integer(0).default(5),
    baseEjectionSeconds: positive.default(30),
    maxEjectionSeconds: positive.default(300),
    maxEjectionPercent: numeric(z.number().min(0).max(100)).default(50),
    unejectOnPassingCheck: flag.default(true),
  }).prefault({}),
  redispatch: flag.default(true),
  limits: strict({
    connectionsPerInstance: integer(1, 65536).default(256),
    queuePerInstance: integer(0, 1_000_000).default(256),
    requestBufferBytes: integer(0, 64 * 1024 * 1024).default(64 * 1024),
  }).prefault({}),
  slowStartSeconds: numeric(z.number().min(0)).default(0),
  timeouts: strict({
    connectMs: integer(1).default(2000),
    headersMs: integer(1).default(30000),
    idleMs: integer(1).default(60000),
    queueMs: integer(1).default(5000),
    sendMs: integer(1).default(60000),
  }).prefault({}),
  exposeGroupHeader: flag.default(false),
  drainSeconds: numeric(z.number().min(0)).default(30),
  observedShare: strict({
    windowSeconds: integer(2, 600).default(60),
    maxDrift: numeric(z.number().gt(0).max(1)).default(0.05),
    minClients: integer(1).default(100),
  }).prefault({}),
})
  .transform(resolveService)
  .transform(splitVhosts)

const adminSchema = strict({
  host: listenHost.default('127.0.0.1'),
  port: port.default(9090),
  token: z.string().min(1).optional(),
  readToken: z.string().min(1).optional(),
  maxEventStreams: integer(0, 100_000).default(64),
}).superRefine(checkAdmin)

const accessLogSchema = strict({
  path: z.string().min(1).default('-'),
  sample: numeric(z.number().min(0).max(1)).default(1),
})

const stateSchema = strict({
  store: z.enum(['file', 'etcd']).default('file'),
  path: z.string().min(1).optional(),
  endpoints: z.array(etcdEndpoint).min(1).optional(),
  prefix: etcdPrefix.optional(),
  cachePath: z.string().min(1).optional(),
  replicaId: replicaId.optional(),
  leaseSeconds: integer(2, 3600).optional(),
  timeoutMs: integer(100, 60_000).optional(),
})
  .superRefine(checkState)
  .transform(resolveState)

const dnsSchema = strict({
  servers: z.array(dnsServer).default(() => []),
  timeoutMs: integer(1).default(1000),
  refreshMinSeconds: positive.default(1),
  refreshMaxSeconds: positive.default(30),
})
  .superRefine(checkDns)
  .prefault({})

/** The whole file. Only `services` is required. */
export const configSchema = strict({
  // Names the JSON Schema for editors; the proxy ignores it.
  $schema: z.string().optional(),
  admin: adminSchema.optional(),
  accessLog: accessLogSchema.optional(),
  state: stateSchema.optional(),
  dns: dnsSchema,
  trustedProxies: z.array(addressOrCidr).default(() => []),
  services: z.array(serviceSchema).min(1),
})
  .superRefine(checkServices)
  .transform(({ $schema: _schema, ...config }) => config)

// Compile-time check: fails to type-check when the schema's output drifts from the Config contract.
type Assignable<T extends U, U> = T

/** What `configSchema` produces; always a `Config`. */
export type ParsedConfig = Assignable<z.output<typeof configSchema>, Config>
