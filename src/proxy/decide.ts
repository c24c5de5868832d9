/**
 * The routing decision for one request: its sticky key, an override if the service allows one,
 * the group, and the instance, from the snapshot the request read.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { BlockList } from 'node:net'
import { pickInstance } from '../routing/pick.js'
import { hashString } from '../routing/rendezvous.js'
import { chooseGroup, homeGroup } from '../routing/select.js'
import type { GroupRoute, ServiceRoute } from '../routing/types.js'
import type { Instance } from '../upstream/instance.js'
import { clientAddressOf } from './client.js'
import { newClientId } from './client-id.js'
import { ProxyErrors, type ProxyError } from './errors.js'
import { readCookie } from './headers.js'
import { countRedispatch } from './next-attempt.js'
import type { StickyKind } from './access-log.js'
import type { ServicePlan } from './plan.js'

const TWO_POW_53 = 9007199254740992
const SECRET_HEADER = 'x-zdd-override-secret'

/**
 * A request's route. One per listener, overwritten by every request: it is read right after
 * `decide` returns, before anything else can run, so no request allocates one.
 */
export interface Decision {
  plan: ServicePlan | undefined
  service: ServiceRoute<Instance> | undefined
  group: GroupRoute<Instance> | undefined
  instance: Instance | undefined
  keyHash: number
  /** Flat header list added to the response (a new client's Set-Cookie), or undefined. */
  extraHeaders: string[] | undefined
  /** The answer sets a new client's sticky cookie. */
  newClient: boolean
  sticky: StickyKind
  /** The key's own group had no live instance: another group took the request. */
  redispatched: boolean
}

/** A decision once made: where the request goes, as the snapshot it read said. */
export interface Route {
  readonly plan: ServicePlan
  readonly service: ServiceRoute<Instance>
  readonly group: GroupRoute<Instance>
  readonly instance: Instance
  /** The sticky key's hash (random without one): redispatch keeps the key's choice by weight. */
  readonly keyHash: number
  readonly extraHeaders: string[] | undefined
  readonly newClient: boolean
  /** How the group was chosen, for the access log. */
  readonly sticky: StickyKind
  /** Routed to another group than the key's already (a request is redispatched once at most). */
  readonly redispatched: boolean
}

export function emptyDecision(): Decision {
  return {
    plan: undefined,
    service: undefined,
    group: undefined,
    instance: undefined,
    keyHash: 0,
    extraHeaders: undefined,
    newClient: false,
    sticky: 'none',
    redispatched: false,
  }
}

/** The refusal when no route exists: what to answer. */
export interface Refusal {
  readonly error: ProxyError
  readonly message: string
}

/** Fills `decision` for `req` and returns undefined, or says why the request cannot be routed. */
export function decide(
  req: IncomingMessage,
  plan: ServicePlan,
  service: ServiceRoute<Instance>,
  peer: string,
  trust: BlockList | undefined,
  decision: Decision,
): Refusal | undefined {
  let extraHeaders: string[] | undefined
  let keyHash: number
  let newClient = false
  let sticky: StickyKind = 'returning'
  switch (plan.stickyBy) {
    case 'cookie': {
      const id = readCookie(req.headers.cookie, plan.stickyCookiePrefix)
      if (id !== undefined && id !== '') {
        keyHash = hashString(id)
      } else {
        sticky = 'new'
        const fresh = newClientId()
        keyHash = hashString(fresh)
        extraHeaders = ['set-cookie', plan.stickyCookiePrefix + fresh + plan.stickyCookieAttributes]
        newClient = true
      }
      break
    }
    case 'header': {
      const id = req.headers[plan.stickyHeader]
      if (typeof id === 'string' && id !== '') keyHash = hashString(id)
      else {
        keyHash = Math.random() * TWO_POW_53
        sticky = 'none'
      }
      break
    }
    case 'ip':
      keyHash = hashString(clientAddressOf(req, peer, trust))
      break
    default:
      keyHash = Math.random() * TWO_POW_53
      sticky = 'none'
  }
  const overrideName = plan.overrideHeader === '' && plan.overrideCookiePrefix === '' ? undefined : overrideOf(req, plan)
  const group = chooseGroup(service, overrideName, keyHash)
  const instance = group === undefined ? undefined : pickInstance(group.instances, Math.random)
  if (group === undefined || instance === undefined) {
    return { error: ProxyErrors.noLiveInstance, message: `service ${plan.name} has no live instance` }
  }
  let redispatched = false
  // Some group with a weight has no live instance: was it this key's? (Skipped while all are up.)
  if (service.weighted.length !== service.candidates.length && group.name !== overrideName) {
    const home = homeGroup(service, keyHash)
    if (home !== undefined && home !== group && home.instances.length === 0) {
      if (!plan.redispatch) return { error: ProxyErrors.noLiveInstance, message: `group ${home.name} of service ${plan.name} has no live instance` }
      countRedispatch(plan, home.name, group.name)
      redispatched = true
    }
  }
  decision.plan = plan
  decision.service = service
  decision.group = group
  decision.instance = instance
  decision.keyHash = keyHash
  decision.extraHeaders = extraHeaders
  decision.newClient = newClient
  decision.sticky = overrideName !== undefined && group.name === overrideName ? 'override' : sticky
  decision.redispatched = redispatched
  return undefined
}

/**
 * The group an override asks for: the header, else the cookie. With a secret configured it counts
 * only with that secret, in the `x-zdd-override-secret` header or as the cookie's `GROUP:SECRET`,
 * compared in constant time. Which groups it may reach is routing's rule (`overridable`).
 */
function overrideOf(req: IncomingMessage, plan: ServicePlan): string | undefined {
  const secret = plan.overrideSecretDigest
  if (plan.overrideHeader !== '') {
    const named = req.headers[plan.overrideHeader]
    if (typeof named === 'string') {
      if (secret === undefined) return named
      const given = req.headers[SECRET_HEADER]
      if (typeof given === 'string' && sameSecret(given, secret)) return named
    }
  }
  if (plan.overrideCookiePrefix === '') return undefined
  const cookie = readCookie(req.headers.cookie, plan.overrideCookiePrefix)
  if (cookie === undefined || secret === undefined) return cookie
  const colon = cookie.lastIndexOf(':')
  return colon > 0 && sameSecret(cookie.slice(colon + 1), secret) ? cookie.slice(0, colon) : undefined
}

function sameSecret(given: string, digest: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given, 'utf8').digest(), digest)
}
