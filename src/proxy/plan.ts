import { createHash } from 'node:crypto'
import type { ServiceConfig } from '../config/types.js'
import type { Logger } from '../support/log.js'
import type { OutcomeSink } from '../upstream/outcomes.js'
import { GroupStats, type StatsRegistry } from '../upstream/stats.js'
import type { AccessLog } from './access-log.js'
import type { RetryPolicies, RetryPolicy } from './retry.js'

const STICKY_COOKIE_MAX_AGE = 365 * 24 * 3600

/**
 * Everything a request of one service needs besides the snapshot, worked out once per data plane
 * and config (a reload makes new plans; running requests keep theirs): sticky and override
 * names, retry rules, where counts and outcomes go.
 */
export interface ServicePlan {
  readonly name: string
  /** Host names (lower case) the service answers on a shared port. */
  readonly vhosts: readonly string[]
  readonly stickyBy: ServiceConfig['sticky']['by']
  readonly stickyCookiePrefix: string
  /** What follows the id in a new client's Set-Cookie value. */
  readonly stickyCookieAttributes: string
  readonly stickyHeader: string
  readonly overrideHeader: string
  readonly overrideCookiePrefix: string
  /** sha256 of the override secret, when one is configured. */
  readonly overrideSecretDigest: Buffer | undefined
  readonly exposeGroupHeader: boolean
  /** Extra attempts on another instance of the group. */
  readonly retries: number
  /** A request that cannot be served by its group goes to another one. */
  readonly redispatch: boolean
  /** When the current redispatch episode of each group ends (performance.now() ms), for logging once per episode. */
  readonly redispatchEpisodes: Map<string, number>
  /** The same for each group's overload episodes (every instance busy: 503). */
  readonly overloadEpisodes: Map<string, number>
  /** Bodies up to this size are read whole before a connection is taken. */
  readonly requestBufferBytes: number
  /** How long an instance may take to send its answer's head. */
  readonly headersMs: number
  /** How long a client may read nothing before it is closed. */
  readonly sendMs: number
  readonly retry: RetryPolicy
  /** Traffic counters by group name. */
  readonly stats: ReadonlyMap<string, GroupStats>
  /** Counters of groups a reload added after this plan was made (counted, not exported). */
  readonly unlistedStats: Map<string, GroupStats>
  readonly outcomes: OutcomeSink
  /** Logs failed attempts (the data plane logs failures only). */
  readonly logger: Logger
  /** Where each request's line goes, when the access log is on. */
  readonly accessLog: AccessLog | undefined
}

/** What every plan of one data plane shares. */
export interface PlanParts {
  readonly stats: StatsRegistry
  readonly retry: RetryPolicies
  readonly outcomes: OutcomeSink
  readonly logger: Logger
  readonly accessLog: AccessLog | undefined
}

/**
 * The counters of `group` of the plan's service. A listener may pair a plan with a table of a newer
 * config for a moment during a reload: a group the plan does not know still gets counters.
 */
export function groupStats(plan: ServicePlan, group: string): GroupStats {
  const stats = plan.stats.get(group)
  if (stats !== undefined) return stats
  let unlisted = plan.unlistedStats.get(group)
  if (unlisted === undefined) plan.unlistedStats.set(group, (unlisted = new GroupStats(plan.name, group)))
  return unlisted
}

export function planFor(config: ServiceConfig, parts: PlanParts): ServicePlan {
  return {
    name: config.name,
    vhosts: config.vhosts.map((vhost) => vhost.toLowerCase()),
    stickyBy: config.sticky.by,
    stickyCookiePrefix: `${config.sticky.cookie}=`,
    // Secure on TLS: a browser then never sends the id over plain HTTP, where anyone on the path could read it.
    stickyCookieAttributes: `; Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax${config.listen.tls === undefined ? '' : '; Secure'}`,
    stickyHeader: config.sticky.header.toLowerCase(),
    overrideHeader: config.override.header.toLowerCase(),
    overrideCookiePrefix: config.override.cookie === '' ? '' : `${config.override.cookie}=`,
    overrideSecretDigest: config.override.secret === undefined ? undefined : createHash('sha256').update(config.override.secret, 'utf8').digest(),
    exposeGroupHeader: config.exposeGroupHeader,
    retries: config.retries,
    redispatch: config.redispatch,
    redispatchEpisodes: new Map(),
    overloadEpisodes: new Map(),
    requestBufferBytes: config.limits.requestBufferBytes,
    headersMs: config.timeouts.headersMs,
    sendMs: config.timeouts.sendMs,
    retry: parts.retry.of(config.name),
    stats: parts.stats.forService(config.name),
    unlistedStats: new Map(),
    outcomes: parts.outcomes,
    logger: parts.logger,
    accessLog: parts.accessLog,
  }
}
