/**
 * The admin API as the dashboard reads it. Only types: test/unit/ui/wire.test.ts checks at compile
 * time that the server's own types (control/status.ts, control/series.ts, control/rollout-api.ts)
 * fit them, so a renamed field breaks the build rather than the page.
 */

export type Weights = Readonly<Record<string, number>>

export interface InstanceWire {
  readonly instance: string
  /** Health: starting, ready, healthy, unhealthy, ejected, draining. */
  readonly state: string
  readonly live: boolean
  readonly inflight: number
  readonly ejections: number
  readonly draining: boolean
}

export interface GroupWire {
  readonly name: string
  readonly weight: number
  /** Share of new traffic in the snapshot in force (0..1). */
  readonly share: number
  readonly instances: readonly InstanceWire[]
  readonly discovery?: { readonly srv: string; readonly ready: boolean; readonly lastFailure?: string }
}

export interface DrainWire {
  readonly to: string
  readonly from: readonly string[]
  readonly revision: number
  readonly startedAt: string
  readonly drainSeconds: number
  readonly phase: string
  readonly inflight: number
  readonly counts?: { readonly inflightAtStart: number; readonly completed: number; readonly cut: number; readonly remaining: number }
}

export interface HistoryWire {
  readonly revision: number
  readonly time: string
  readonly kind: string
  readonly before: Weights
  readonly after: Weights
  readonly reason?: string
  readonly to?: string
  readonly undid?: number
  readonly undone?: boolean
}

export interface ServiceWire {
  readonly name: string
  /** Desired-state revision, sent back as If-Match. */
  readonly revision: number
  readonly routeRevision: number
  readonly weights: Weights
  readonly groups: readonly GroupWire[]
  readonly cutover: DrainWire | null
  readonly history: readonly HistoryWire[]
}

export interface ServicesWire {
  readonly revision: number
  readonly services: readonly ServiceWire[]
}

export interface WindowWire {
  readonly requests: number
  readonly share: number | null
  readonly rps: number
  readonly errorRate: number | null
  readonly p50: number | null
  readonly p99: number | null
}

export interface GroupSeriesWire {
  readonly name: string
  readonly requests: readonly number[]
  readonly rps: readonly number[]
  readonly errorRate: readonly (number | null)[]
  readonly p50: readonly (number | null)[]
  readonly p99: readonly (number | null)[]
  readonly window: WindowWire
}

export interface SeriesWire {
  readonly service: string
  readonly intervalSeconds: number
  readonly windowSeconds: number
  /** ms since the epoch, oldest first. */
  readonly times: readonly number[]
  readonly seconds: number
  readonly groups: readonly GroupSeriesWire[]
}

/** The one error shape of the admin API. */
export interface ErrorWire {
  readonly error: { readonly code: string; readonly message: string }
}

/** One side's figures over a rollout window; null where there were no requests. */
export interface RolloutFiguresWire {
  readonly requests: number
  readonly errorRate: number | null
  readonly p99Ms: number | null
}

/** The fields of `GET /v1/services/{name}/rollout`'s rollout the panel shows. */
export interface RolloutWire {
  readonly to: string
  readonly phase: string
  readonly step: number
  readonly of: number
  readonly weight: number
  readonly weights: Weights
  readonly reason: string | null
  readonly verdict: string | null
  readonly figures: { readonly seconds: number; readonly replicas: number; readonly canary: RolloutFiguresWire; readonly baseline: RolloutFiguresWire } | null
  readonly failed: readonly { readonly check: string; readonly canary: number; readonly baseline?: number; readonly limit: number }[]
}

export interface RolloutAnswerWire {
  readonly rollout: RolloutWire | null
}
