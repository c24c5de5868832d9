/**
 * The dashboard's view of the admin API (ui/wire.ts) must accept what the server sends. The checks
 * are assignments the type checker verifies (`npm test` type-checks before it runs vitest); the
 * test itself only keeps the file in the suite.
 */
import { expect, it } from 'vitest'
import type { RolloutView } from '../../../src/control/rollout-api.js'
import type { SeriesSampler } from '../../../src/control/series.js'
import type { servicesView, ServiceView } from '../../../src/control/status.js'
import type { RolloutWire, SeriesWire, ServicesWire, ServiceWire } from '../../../ui/wire.js'

type ServerSeries = NonNullable<ReturnType<SeriesSampler['seriesOf']>>

export const serviceFits = (view: ServiceView): ServiceWire => view
export const servicesFit = (view: ReturnType<typeof servicesView>): ServicesWire => view
export const seriesFits = (series: ServerSeries): SeriesWire => series
export const rolloutFits = (view: RolloutView): RolloutWire => view

it('ui/wire.ts fits the server types (checked by tsc)', () => {
  expect([serviceFits, servicesFit, seriesFits, rolloutFits]).toHaveLength(4)
})
