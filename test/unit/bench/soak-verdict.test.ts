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

  it('reads RSS growth over the second half, and shows the whole run beside it', () => {
    const warm = [minute(1, { rssMiB: 80 }), minute(2, { rssMiB: 100 }), minute(3, { rssMiB: 101 }), minute(4, { rssMiB: 102 })]
    expect(verdict(warm)[1]).toMatch(/^\[ok \] RSS 100\.0 → 102\.0 MiB from minute 2 .*from minute 1: 80\.0 → 102\.0, 27\.5 %/)
    const leaking = [minute(1, { rssMiB: 100 }), minute(2, { rssMiB: 110 }), minute(3, { rssMiB: 120 }), minute(4, { rssMiB: 130 })]
    expect(verdict(leaking)[1]).toMatch(/^\[NO \] RSS/)
  })

  it('a socket in CLOSE_WAIT at one minute end and gone at the next is no leak; one still there is', () => {
    const passing = verdict([minute(1, { closeWait: 2, closeWaitInodes: ['1', '2'] }), minute(2, { closeWait: 1, closeWaitInodes: ['3'] })])
    expect(passing[3]).toMatch(/^\[ok \] sockets still in CLOSE_WAIT a minute later: 0 \(at each minute's end: 2 1\)/)
    const lingering = verdict([minute(1, { closeWait: 1, closeWaitInodes: ['7'] }), minute(2, { closeWait: 1, closeWaitInodes: ['7'] })])
    expect(lingering[3]).toMatch(/^\[NO \] sockets still in CLOSE_WAIT a minute later: 1/)
  })
})
