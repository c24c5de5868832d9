/** The admin API's endpoints: which method and path does what. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import { ConfigError } from '../config/errors.js'
import type { ClusterView } from './cluster.js'
import type { ChangeResult, MutationOptions } from './changes.js'
import { HttpError, sendJson } from './http-errors.js'
import { parseRolloutRequest, rolloutView, type RolloutView } from './rollout-api.js'
import type { RolloutAction, Rollouts } from './rollouts.js'
import type { ConfigReload } from './ports.js'
import type { SeriesSampler } from './series.js'
import type { SplitAccuracy } from './split-accuracy.js'
import type { EventStream } from './sse.js'
import { notReadyReasons, serviceView, servicesView, type StatusSources } from './status.js'
import type { UiFiles } from './ui-files.js'

/** What handlers work with. */
export interface AdminContext extends StatusSources {
  readonly metrics: Registry
  readonly events: EventStream
  readonly series: Pick<SeriesSampler, 'seriesOf'>
  readonly splits: Pick<SplitAccuracy, 'splitOf'>
  /** The dashboard's built files. */
  readonly ui: UiFiles
  /** The store and the replicas sharing it (`GET /v1/cluster`). */
  cluster(): ClusterView
  readonly rollouts: Rollouts
  /** Re-reads the config file; absent when the proxy runs without one (the demo). */
  readonly reload?: ConfigReload
}

/** One matched request. `body` is the parsed JSON object of a mutation, `{}` for reads. */
export interface AdminRequest {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  /** Decoded path parameters (the service name). */
  readonly params: readonly string[]
  readonly body: Record<string, unknown>
  readonly ifMatch: number | undefined
}

type Handler = (ctx: AdminContext, request: AdminRequest) => Promise<void> | void

export interface Route {
  readonly pattern: RegExp
  /** Method → handler; `mutation` ones need the token, JSON and a same-origin caller. */
  readonly methods: Readonly<Record<string, { readonly handler: Handler; readonly mutation: boolean }>>
}

const REASON_MAX = 1000
const DRAIN_MAX_SECONDS = 86_400

function read(handler: Handler) {
  return { handler, mutation: false }
}

function mutate(handler: Handler) {
  return { handler, mutation: true }
}

/** Refuses fields a body may not carry, so a typo (`drainSecond`) is an error instead of ignored. */
function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new HttpError('invalid_body', `${key}: unknown field (fields: ${allowed.join(', ')})`)
  }
}

function options(request: AdminRequest): MutationOptions {
  const reason = request.body.reason
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > REASON_MAX)) {
    throw new HttpError('invalid_body', `reason: must be a string of at most ${REASON_MAX} characters`)
  }
  return { reason, ifMatch: request.ifMatch }
}

function optionalNumber(body: Record<string, unknown>, field: string, check: (n: number) => boolean, rule: string): number | undefined {
  const value = body[field]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new HttpError('invalid_body', `${field}: must be ${rule}`)
  }
  return value
}

function serviceName(ctx: AdminContext, request: AdminRequest): string {
  const name = request.params[0]!
  if (ctx.plane.service(name) === undefined) throw new HttpError('unknown_service', `unknown service "${name}"`)
  return name
}

function answerChange(ctx: AdminContext, request: AdminRequest, name: string, result: ChangeResult): void {
  const body: Record<string, unknown> = {
    revision: result.revision,
    change: result.change,
    service: serviceView(ctx, name),
  }
  if (result.drain !== undefined) body.drain = result.drain
  sendJson(request.res, 200, body, { etag: `"${result.revision}"` })
}

const getService: Handler = (ctx, request) => {
  const view = serviceView(ctx, serviceName(ctx, request))!
  sendJson(request.res, 200, view, { etag: `"${view.revision}"` })
}

const putWeights: Handler = async (ctx, request) => {
  const name = serviceName(ctx, request)
  onlyFields(request.body, ['weights', 'reason'])
  if (request.body.weights === undefined) throw new HttpError('invalid_weights', 'weights: is required')
  const result = await ctx.changes.setWeights(name, request.body.weights, options(request))
  answerChange(ctx, request, name, result)
}

const postCutover: Handler = async (ctx, request) => {
  const name = serviceName(ctx, request)
  const body = request.body
  onlyFields(body, ['to', 'drainSeconds', 'minReady', 'reason'])
  if (typeof body.to !== 'string' || body.to === '') throw new HttpError('invalid_body', 'to: must be a group name')
  const drainSeconds = optionalNumber(body, 'drainSeconds', (n) => n >= 0 && n <= DRAIN_MAX_SECONDS, `a number of seconds from 0 to ${DRAIN_MAX_SECONDS}`)
  const minReady = optionalNumber(body, 'minReady', (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1')
  const result = await ctx.changes.cutover(name, body.to, { ...options(request), drainSeconds, minReady })
  answerChange(ctx, request, name, result)
}

const postRollback: Handler = async (ctx, request) => {
  const name = serviceName(ctx, request)
  onlyFields(request.body, ['reason'])
  const result = await ctx.changes.rollback(name, options(request))
  answerChange(ctx, request, name, result)
}

/** The service's rollout as the state holds it now, with its open window's figures. */
function currentRollout(ctx: AdminContext, name: string): RolloutView | null {
  const rollout = ctx.changes.state.services[name]?.rollout
  if (rollout === undefined) return null
  return rolloutView(rollout, ctx.rollouts.live(name, rollout), ctx.plane.weightsOf(name), ctx.rollouts.driver)
}

function answerRollout(ctx: AdminContext, request: AdminRequest, name: string, revision: number, status = 200): void {
  const headers: Record<string, string> = { etag: `"${revision}"` }
  if (status === 201) headers.location = `/v1/services/${encodeURIComponent(name)}/rollout`
  sendJson(request.res, status, { revision, rollout: currentRollout(ctx, name), service: serviceView(ctx, name) }, headers)
}

const postRollouts: Handler = async (ctx, request) => {
  const name = serviceName(ctx, request)
  const rollout = parseRolloutRequest(request.body, { drainSeconds: ctx.plane.service(name)!.drainSeconds })
  const result = await ctx.rollouts.begin(name, rollout, options(request))
  answerRollout(ctx, request, name, result.revision, 201)
}

const getRollout: Handler = (ctx, request) => {
  const name = serviceName(ctx, request)
  sendJson(request.res, 200, { service: name, rollout: currentRollout(ctx, name) }, { etag: `"${ctx.changes.revision}"` })
}

const postRolloutAction: Handler = async (ctx, request) => {
  const name = serviceName(ctx, request)
  onlyFields(request.body, ['reason'])
  const result = await ctx.rollouts.act(name, request.params[1] as RolloutAction, options(request))
  answerRollout(ctx, request, name, result.revision)
}

const postReload: Handler = async (ctx, request) => {
  onlyFields(request.body, [])
  if (ctx.reload === undefined) throw new HttpError('no_config_file', 'this proxy runs without a config file to re-read (demo)')
  try {
    sendJson(request.res, 200, await ctx.reload())
  } catch (error) {
    if (error instanceof ConfigError) throw new HttpError('invalid_config', error.message, {}, error.field === '' ? undefined : error.field)
    throw error
  }
}

const getSeries: Handler = (ctx, request) => {
  const name = serviceName(ctx, request)
  const series = ctx.series.seriesOf(name)
  if (series === undefined) throw new HttpError('unknown_service', `unknown service "${name}"`)
  sendJson(request.res, 200, series)
}

/** `/` and `/ui/…`: the dashboard, readable without the token (mutations still need it). */
const uiFile: Handler = (ctx, { req, res, url, params }) => {
  if (!ctx.ui.built) throw new HttpError('not_found', 'the dashboard is not built: run `npm run build`')
  const ifNoneMatch = req.headers['if-none-match']
  if (!ctx.ui.serve(res, params[0] ?? '', ifNoneMatch)) throw new HttpError('not_found', `no such file: ${url.pathname}`)
}

const readyz: Handler = (ctx, { res }) => {
  const reasons = notReadyReasons(ctx.plane)
  sendJson(res, reasons.length === 0 ? 200 : 503, reasons.length === 0 ? { ready: true } : { ready: false, reasons })
}

const metrics: Handler = async (ctx, { res }) => {
  const text = await ctx.metrics.metrics()
  res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store' })
  res.end(text)
}

/** Every endpoint. Path parameters are single segments, matched after decoding. */
export const ROUTES: readonly Route[] = [
  { pattern: /^\/$/, methods: { GET: read(uiFile) } },
  { pattern: /^\/ui$/, methods: { GET: read((_, { res }) => void res.writeHead(308, { location: '/ui/', 'content-length': 0 }).end()) } },
  { pattern: /^\/ui\/(.*)$/, methods: { GET: read(uiFile) } },
  { pattern: /^\/healthz$/, methods: { GET: read((_, { res }) => sendJson(res, 200, { status: 'ok' })) } },
  { pattern: /^\/readyz$/, methods: { GET: read(readyz) } },
  { pattern: /^\/metrics$/, methods: { GET: read(metrics) } },
  { pattern: /^\/v1\/events$/, methods: { GET: read((ctx, { req, res, url }) => ctx.events.open(req, res, url)) } },
  {
    pattern: /^\/v1\/services$/,
    methods: { GET: read((ctx, { res }) => sendJson(res, 200, servicesView(ctx))) },
  },
  { pattern: /^\/v1\/cluster$/, methods: { GET: read((ctx, { res }) => sendJson(res, 200, ctx.cluster())) } },
  { pattern: /^\/v1\/services\/([^/]+)$/, methods: { GET: read(getService) } },
  { pattern: /^\/v1\/services\/([^/]+)\/series$/, methods: { GET: read(getSeries) } },
  { pattern: /^\/v1\/services\/([^/]+)\/weights$/, methods: { PUT: mutate(putWeights) } },
  { pattern: /^\/v1\/services\/([^/]+)\/cutover$/, methods: { POST: mutate(postCutover) } },
  { pattern: /^\/v1\/services\/([^/]+)\/rollback$/, methods: { POST: mutate(postRollback) } },
  { pattern: /^\/v1\/services\/([^/]+)\/rollouts$/, methods: { POST: mutate(postRollouts) } },
  { pattern: /^\/v1\/services\/([^/]+)\/rollout$/, methods: { GET: read(getRollout) } },
  { pattern: /^\/v1\/services\/([^/]+)\/rollout\/(pause|resume|promote|abort)$/, methods: { POST: mutate(postRolloutAction) } },
  { pattern: /^\/v1\/reload$/, methods: { POST: mutate(postReload) } },
]
