import type { Logger } from '../support/log.js'
import type { InstanceId } from '../upstream/instance.js'
import type { FailureKind, OutcomeSink } from '../upstream/outcomes.js'
import { countedEjections, ejectionAllowed, ejectionMs, failuresEject, fivexxEject, groupCensus } from './passive.js'
import type { InstanceSource } from './ports.js'
import { fieldsOf, type HealthRecord } from './record.js'
import { eject, endEjection, type InstanceFacts } from './status.js'

/** What passive ejection works on: the monitor's records, and its way of changing them. */
export interface EjectionHost {
  /** Monotonic clock in ms. */
  readonly now: () => number
  readonly records: ReadonlyMap<InstanceId, HealthRecord>
  /** The records of each service, for the panic guard's census. */
  readonly byService: ReadonlyMap<string, ReadonlySet<HealthRecord>>
  /** The weights the panic guard weighs groups by. */
  readonly instances: InstanceSource
  readonly logger: Logger
  /** Stores new facts on a record; a change of state is announced and handed on. */
  readonly update: (record: HealthRecord, facts: InstanceFacts, reason: string) => void
}

/**
 * Passive outlier ejection: failure and 5xx streaks the data planes report eject a healthy instance
 * at once, unless the panic guard refuses, for a time that grows with its recent ejections (the
 * rules are in passive.ts); `sweep` ends the ejections whose time is over.
 */
export class OutlierEjection implements OutcomeSink {
  constructor(private readonly host: EjectionHost) {}

  /** A failed attempt: enough local failures in a row eject a healthy instance at once. */
  attemptFailed(id: InstanceId, kind: FailureKind, inARow: number): void {
    const record = this.host.records.get(id)
    if (record === undefined || record.health !== 'healthy') return
    if (!failuresEject(kind, inARow, record.service.outlierDetection)) return
    this.#tryEject(record, `${inARow} failed attempt${inARow > 1 ? 's' : ''} in a row (last: ${kind})`, kind === 'connect')
  }

  /** A 5xx answer: enough of them in a row eject a healthy instance at once. */
  answered5xx(id: InstanceId, inARow: number): void {
    const record = this.host.records.get(id)
    if (record === undefined || record.health !== 'healthy') return
    if (fivexxEject(inARow, record.service.outlierDetection)) this.#tryEject(record, `${inARow} 5xx responses in a row`)
  }

  /** Ends ejections whose time is over (bound: it runs on an interval). */
  readonly sweep = (): void => {
    const now = this.host.now()
    for (const record of this.host.records.values()) {
      const until = record.facts.ejectedUntilMs
      if (until === undefined || now < until) continue
      const active = record.service.healthChecks.length > 0
      // With active checks it stays ejected until a check passes (no transition yet).
      this.host.update(record, endEjection(record.facts, now, active), 'ejection over')
    }
  }

  #tryEject(record: HealthRecord, why: string, refusesConnections = false): void {
    const rule = record.service.outlierDetection
    const siblings = this.host.byService.get(record.service.name) ?? []
    const census = groupCensus(
      [...siblings].map(({ instance, health }) => ({ group: instance.group, health })),
      record.instance.group,
      this.host.instances.weightsOf(record.service.name),
    )
    if (!ejectionAllowed(census, rule, refusesConnections)) {
      if (!record.guardLogged) {
        record.guardLogged = true
        this.host.logger.warn(
          { event: 'ejection_skipped', ...fieldsOf(record), reason: why, ejected: census.ejected, instances: census.size },
          'instance not ejected: too many of its group are ejected already (panic guard)',
        )
      }
      return
    }
    const now = this.host.now()
    const previous = countedEjections(record.facts, now, rule)
    const duration = ejectionMs(previous, rule)
    this.host.update(record, eject({ ...record.facts, ejections: previous }, now, duration), `${why}; ejected for ${duration / 1000} s`)
  }
}
