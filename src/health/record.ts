import type { ServiceConfig } from '../config/types.js'
import type { KnownInstance } from '../upstream/instance.js'
import type { InstanceChecks } from './checks.js'
import type { InstanceFacts } from './status.js'
import type { HealthState } from './types.js'

/** Everything health keeps about one instance. */
export interface HealthRecord {
  readonly instance: KnownInstance
  /** Its service's config (a reload replaces it). */
  service: ServiceConfig
  facts: InstanceFacts
  health: HealthState
  /** Monotonic time the instance last became live (slow start). */
  liveSinceMs: number
  /** Active checks and slow-start steps; stopped once the instance leaves (or a reload changes the checks). */
  checks: InstanceChecks
  /** The panic guard's refusal was logged since the last transition. */
  guardLogged: boolean
  /** Health checks (by index) that reported at least once, and whether readiness passed once. */
  readonly reported: Set<number>
  readiedOnce: boolean
}

/** The fields that name the instance in log lines and `health_changed` events. */
export function fieldsOf(record: HealthRecord) {
  return { service: record.service.name, group: record.instance.group, instance: record.instance.address }
}
