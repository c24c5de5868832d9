import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { DURATION_BUCKETS, type StatsRegistry } from '../upstream/stats.js'
import type { ControlPlane } from './plane.js'
import type { SplitAccuracy } from './split-accuracy.js'

type GroupLabels = 'service' | 'group'
type HistogramValue = { value: number; labels: Record<string, string | number>; metricName: string }
type HistogramData = Awaited<ReturnType<Histogram<GroupLabels>['get']>>

const DURATION_NAME = 'zdd_request_duration_seconds'
const DURATION_HELP = 'Time from request received to response finished, per service and group'

/**
 * `zdd_request_duration_seconds`, read from the data plane's plain bucket counts at scrape time.
 * prom-client has no way to set a histogram's buckets, so the values are produced here in the
 * shape its registry formats.
 */
class ScrapedHistogram extends Histogram<GroupLabels> {
  constructor(
    private readonly stats: StatsRegistry,
    registry: Registry,
  ) {
    super({
      name: DURATION_NAME,
      help: DURATION_HELP,
      labelNames: ['service', 'group'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
    })
  }

  override async get(): Promise<HistogramData> {
    const values: HistogramValue[] = []
    for (const group of this.stats.all()) {
      const labels = { service: group.service, group: group.group }
      let cumulative = 0
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += group.durationCounts[i]!
        values.push({ value: cumulative, labels: { ...labels, le: DURATION_BUCKETS[i]! }, metricName: `${DURATION_NAME}_bucket` })
      }
      values.push({ value: group.durationCount, labels: { ...labels, le: '+Inf' }, metricName: `${DURATION_NAME}_bucket` })
      values.push({ value: group.durationSum, labels, metricName: `${DURATION_NAME}_sum` })
      values.push({ value: group.durationCount, labels, metricName: `${DURATION_NAME}_count` })
    }
    // `le` is a label prom-client adds itself for histograms, hence the cast.
    return { name: DURATION_NAME, help: DURATION_HELP, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramData
  }

  // The registry prefers this (undocumented) method when present; serve the same values.
  getForPromString() {
    return this.get()
  }
}

/**
 * The Prometheus registry of one proxy. Every value is read at scrape time from the data planes'
 * counters and the control plane's facts: the hot path never calls prom-client.
 */
export function createMetrics(
  plane: ControlPlane,
  stats: StatsRegistry,
  splits: Pick<SplitAccuracy, 'splitOf'>,
  stateRevision: () => number,
  /** Whether the state store is reachable; absent without a store. */
  storeUp?: () => boolean,
): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  new Counter<GroupLabels | 'code'>({
    name: 'zdd_requests_total',
    help: 'Responses sent, per service, group and status code (including the proxy\'s own errors)',
    labelNames: ['service', 'group', 'code'],
    registers: [registry],
    collect() {
      this.reset()
      for (const group of stats.all()) {
        const byStatus = group.responsesByStatus
        for (let code = 100; code < byStatus.length; code++) {
          if (byStatus[code]! > 0) this.inc({ service: group.service, group: group.group, code }, byStatus[code]!)
        }
      }
    },
  })

  new ScrapedHistogram(stats, registry)

  new Counter<GroupLabels | 'kind'>({
    name: 'zdd_upstream_errors_total',
    help: 'Failed attempts to talk to an instance, per service, group and kind (connect, reset, timeout, other)',
    labelNames: ['service', 'group', 'kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const group of stats.all()) {
        for (const [kind, count] of Object.entries(group.upstreamErrors)) {
          this.inc({ service: group.service, group: group.group, kind }, count)
        }
      }
    },
  })

  new Counter<GroupLabels>({
    name: 'zdd_retries_total',
    help: 'Attempts retried on another instance, per service and group',
    labelNames: ['service', 'group'],
    registers: [registry],
    collect() {
      this.reset()
      for (const group of stats.all()) this.inc({ service: group.service, group: group.group }, group.retries)
    },
  })

  new Counter<'service' | 'from' | 'to'>({
    name: 'zdd_redispatched_total',
    help: 'Requests a group could not take (no live instance, or none accepting connections), by the group that took them',
    labelNames: ['service', 'from', 'to'],
    registers: [registry],
    collect() {
      this.reset()
      for (const group of stats.all()) {
        for (const [to, count] of group.redispatchedTo) this.inc({ service: group.service, from: group.group, to }, count)
      }
    },
  })

  new Gauge<GroupLabels | 'state'>({
    name: 'zdd_instances',
    help: 'Instances known per service, group and state',
    labelNames: ['service', 'group', 'state'],
    registers: [registry],
    collect() {
      this.reset()
      for (const service of plane.config.services) {
        for (const group of service.groups) {
          // Every group reports at least `healthy`, so a group with no instance shows 0, not nothing.
          const counts = new Map<string, number>([['healthy', 0]])
          for (const instance of plane.instancesOf(service.name, group.name)) {
            const state = plane.healthOf(instance)
            counts.set(state, (counts.get(state) ?? 0) + 1)
          }
          for (const [state, count] of counts) this.set({ service: service.name, group: group.name, state }, count)
        }
      }
    },
  })

  new Gauge<GroupLabels>({
    name: 'zdd_weight',
    help: 'Desired weight per service and group, as set (not normalised)',
    labelNames: ['service', 'group'],
    registers: [registry],
    collect() {
      this.reset()
      for (const service of plane.config.services) {
        const weights = plane.weightsOf(service.name)
        for (const group of service.groups) {
          this.set({ service: service.name, group: group.name }, Object.hasOwn(weights, group.name) ? weights[group.name]! : 0)
        }
      }
    },
  })

  new Gauge<GroupLabels | 'of'>({
    name: 'zdd_observed_share',
    help: 'Share of the service\'s requests or distinct clients a group got over the observedShare window (absent before its first sample or without traffic)',
    labelNames: ['service', 'group', 'of'],
    registers: [registry],
    collect() {
      this.reset()
      for (const service of plane.config.services) {
        const split = splits.splitOf(service.name)
        if (split === undefined) continue
        for (const [group, observed] of Object.entries(split.groups)) {
          if (observed.requests !== null) this.set({ service: service.name, group, of: 'requests' }, observed.requests)
          if (observed.clients !== null) this.set({ service: service.name, group, of: 'clients' }, observed.clients)
        }
      }
    },
  })

  new Counter<GroupLabels | 'kind'>({
    name: 'zdd_discovery_errors_total',
    help: 'Failed (error) and empty SRV lookups per service and group',
    labelNames: ['service', 'group', 'kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [key, status] of plane.discovery) {
        const slash = key.indexOf('/')
        const labels = { service: key.slice(0, slash), group: key.slice(slash + 1) }
        this.inc({ ...labels, kind: 'error' }, status.failures.error)
        this.inc({ ...labels, kind: 'empty' }, status.failures.empty)
      }
    },
  })

  new Gauge({
    name: 'zdd_route_revision',
    help: 'Revision of the routing snapshot in force',
    registers: [registry],
    collect() {
      this.set(plane.snapshot.current.revision)
    },
  })

  new Gauge({
    name: 'zdd_state_revision',
    help: 'Revision of the desired state (weights), as used by If-Match',
    registers: [registry],
    collect() {
      this.set(stateRevision())
    },
  })

  if (storeUp !== undefined) {
    new Gauge({
      name: 'zdd_store_up',
      help: 'Whether the desired-state store can be read and written (1) or not (0: routing stays on the last applied state, changes get 503)',
      registers: [registry],
      collect() {
        this.set(storeUp() ? 1 : 0)
      },
    })
  }

  return registry
}
