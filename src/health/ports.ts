/**
 * Health's ports: what it reads and where its verdicts go, as interfaces health owns (Traefik's
 * StatusSetter, Envoy's host-check callbacks). The control plane fits both; nothing here knows it.
 * Outcomes of requests come in through the OutcomeSink health implements (upstream/outcomes.ts).
 */
import type { InstanceId, KnownInstance } from '../upstream/instance.js'
import type { HealthState } from './types.js'

/** Where health learns which instances exist, and the weights its panic guard weighs groups by. */
export interface InstanceSource {
  /** Every instance discovery knows now. */
  knownInstances(): Iterable<KnownInstance>
  /** Calls `listener` with the instances discovery added and removed; returns the unsubscribe. */
  onKnownChanged(listener: (added: readonly KnownInstance[], removed: readonly KnownInstance[]) => void): () => void
  /** A service's desired weights by group. */
  weightsOf(service: string): Readonly<Record<string, number>>
}

/** Health's verdict on one instance. */
export interface Verdict {
  readonly health: HealthState
  /** Takes new requests (health `healthy`). */
  readonly live: boolean
  /** Share of a full instance's traffic while it ramps up (slow start), in (0, 1]; 1 otherwise. */
  readonly weight: number
  /** Passive ejections counted against the instance (its backoff; old ones are forgotten). */
  readonly ejections?: number
}

/** Where verdicts go: on every change of state, and at each slow-start step. */
export interface VerdictSink {
  setVerdict(id: InstanceId, verdict: Verdict): void
}
