/** How the rollout commands print a rollout: one progress line, and the status report. */

import type { RolloutView } from '../control/rollout-api.js'
import type { GroupFigures, StepFigures } from '../state/rollout-record.js'
import { formatWeights } from './admin-client.js'
import { table } from './status.js'

function rate(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(2)} %`
}

function ms(value: number | null): string {
  return value === null ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`
}

function side(name: string, figures: GroupFigures): string {
  return `${name} ${figures.requests} req, ${rate(figures.errorRate)} errors, p99 ${ms(figures.p99Ms)}`
}

/** `canary 120 req, 0.00 % errors, p99 4.1 ms | baseline …`. */
export function figuresText(figures: StepFigures): string {
  const from = figures.baselineFromStep === undefined ? '' : ` (step ${figures.baselineFromStep}'s)`
  return `${side('canary', figures.canary)} | ${side(`baseline${from}`, figures.baseline)}`
}

/** One line on where a rollout stands: its step and weights, the window's figures, and what they say. */
export function progressLine(service: string, view: RolloutView): string {
  const head = `${service}: ${view.phase} step ${view.step}/${view.of}, ${view.to} at ${view.weight} % (${formatWeights(view.weights)})`
  const parts = [head]
  if (view.figures !== null && (view.phase === 'running' || view.phase === 'paused')) parts.push(figuresText(view.figures))
  if (view.phase === 'paused' && view.reason !== null) parts.push(`paused: ${view.reason}`)
  else if (view.verdict !== null) parts.push(view.verdict)
  if (view.phase === 'finishing') parts.push(`cut-over to ${view.to}: waiting for the old groups to drain (up to ${view.drainSeconds} s)`)
  return parts.join(' · ')
}

/** How a rollout ended, in one line (the reason and figures of a failure). */
export function outcomeLine(service: string, view: RolloutView): string {
  switch (view.phase) {
    case 'completed': {
      const drain = view.drain === null ? '' : `; cut-over ${view.drain.outcome}: ${view.drain.completed} of ${view.drain.inflightAtStart} in-flight requests completed, ${view.drain.cut} cut`
      return `${service}: rollout ${view.id} completed, ${view.to} at ${view.weight} % (${formatWeights(view.weights)})${drain}`
    }
    case 'failed':
      return `${service}: rollout ${view.id} failed at step ${view.step}/${view.of} and was rolled back to ${formatWeights(view.before)}: ${view.reason ?? 'no reason given'}${view.figures === null ? '' : ` (${figuresText(view.figures)})`}`
    case 'aborted':
      return `${service}: rollout ${view.id} aborted at step ${view.step}/${view.of}, back to ${formatWeights(view.before)}: ${view.reason ?? ''}`
    default:
      return progressLine(service, view)
  }
}

/** The readable report of `rollout status`. */
export function formatRollout(service: string, view: RolloutView | null): string {
  if (view === null) return `${service}: no rollout yet`
  const lines = [
    `${service}  rollout ${view.id}  ${view.phase}  step ${view.step}/${view.of}  ${view.to} at ${view.weight} %`,
    `  steps ${view.steps.join(', ')} % every ${view.stepSeconds} s, then ${view.finish === 'cutover' ? `a cut-over (drain ${view.drainSeconds} s)` : 'the last weights stay'}`,
    `  analysis: error rate ${view.analysis.compareToBaseline ? 'above the baseline\'s by' : 'above'} ${rate(view.analysis.maxErrorRate)} fails${view.analysis.maxP99Ms === undefined ? '' : `, p99 above ${view.analysis.maxP99Ms} ms fails`}; at least ${view.analysis.minRequests} canary requests a step (waiting up to ${view.analysis.maxWaitSeconds} s more)`,
    `  weights ${formatWeights(view.weights)} (before: ${formatWeights(view.before)}); started ${view.startedAt}${view.endedAt === null ? '' : `, ended ${view.endedAt}`}; driven by ${view.driver ?? 'no replica yet'}`,
  ]
  if (view.reason !== null) lines.push(`  reason: ${view.reason}`)
  if (view.figures !== null) lines.push(`  ${view.phase === 'running' ? `window (${view.elapsedSeconds ?? 0} s)` : 'figures'}: ${figuresText(view.figures)}`)
  if (view.verdict !== null) lines.push(`  now: ${view.verdict}`)
  if (view.results.length > 0) {
    lines.push(
      '',
      ...table([
        ['STEP', 'WEIGHT', 'RESULT', 'CANARY', 'BASELINE'],
        ...view.results.map((result) => [
          String(result.step),
          `${result.weight} %`,
          result.result,
          result.figures === null ? '–' : side('', result.figures.canary).trim(),
          result.figures === null ? '–' : side('', result.figures.baseline).trim(),
        ]),
      ]),
    )
  }
  return lines.join('\n')
}
