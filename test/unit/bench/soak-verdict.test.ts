import { describe, expect, it } from 'vitest'
import { soakVerdict, type SoakMinute } from '../../../bench/soak.js'

function minute(n: number, fields: Partial<SoakMinute> = {}): SoakMinute {
  return { minute: n, requests: 100, non2xx: 0, errors: 0, rssMiB: 100, fds: 30, closeWait: 0, closeWaitInodes: [], failures: {}, warnings: [], ...fields }
}

const verdict = (minutes: SoakMinute[]) => soakVerdict({ rate: 10, minutes, churn: [] })

describe('soakVerdict', () => {
  it('passes a clean, flat run', () => {
    expect(verdict([minute(1), minute(2), minute(3), minute(4)]).every((line) => line.startsWith('[ok ]'))).toBe(true)
  })

  it('names how requests failed, and the proxy warnings of those minutes', () => {
    const lines = verdict([minute(1, { non2xx: 1, failures: { 'status 502': 1 }, warnings: ['{"level":40}'] }), minute(2)])
    expect(lines[0]).toBe('[NO ] 1 failed requests of 200 (status 502: 1)')
    expect(lines.at(-1)).toBe('  minute 1: {"level":40}')
  })

  it('judges RSS by its peaks: a saw-tooth is flat, rising peaks are a leak', () => {
    const sawTooth = [90, 100, 80, 101, 82, 100].map((rssMiB, i) => minute(i + 1, { rssMiB }))
    expect(verdict(sawTooth)[1]).toMatch(/^\[ok \] RSS peak 100\.0 MiB in minutes 1-3, 101\.0 MiB in minutes 4-6 \(1\.0 %; lowest 80\.0 and 82\.0\)/)
    const leaking = [100, 105, 110, 115, 120, 125].map((rssMiB, i) => minute(i + 1, { rssMiB }))
    expect(verdict(leaking)[1]).toMatch(/^\[NO \] RSS peak 110\.0 MiB in minutes 1-3, 125\.0 MiB/)
  })

  it('a socket in CLOSE_WAIT at one minute end and gone at the next is no leak; one still there is', () => {
    const passing = verdict([minute(1, { closeWait: 2, closeWaitInodes: ['1', '2'] }), minute(2, { closeWait: 1, closeWaitInodes: ['3'] })])
    expect(passing[3]).toMatch(/^\[ok \] sockets still in CLOSE_WAIT a minute later: 0 \(at each minute's end: 2 1\)/)
    const lingering = verdict([minute(1, { closeWait: 1, closeWaitInodes: ['7'] }), minute(2, { closeWait: 1, closeWaitInodes: ['7'] })])
    expect(lingering[3]).toMatch(/^\[NO \] sockets still in CLOSE_WAIT a minute later: 1/)
  })
})
