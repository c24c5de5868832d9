import { describe, expect, it } from 'vitest'
import { firstLine, formatReport, reportExitCode, reportJson } from '../../../src/canary-check/report.js'
import type { CanaryReport } from '../../../src/canary-check/types.js'

function report(overrides: Partial<CanaryReport>): CanaryReport {
  return {
    service: 'simpleservice',
    url: 'http://127.0.0.1:8080/endpoint0',
    clients: 10,
    requestsPerClient: 1,
    requests: 10,
    versions: {},
    stickyViolations: 0,
    errors: 0,
    errorReasons: [],
    unanswered: 0,
    results: [],
    identities: [],
    ...overrides,
  }
}

describe('formatReport first line', () => {
  const cases: { desc: string; input: Partial<CanaryReport>; line: string }[] = [
    {
      desc: 'one version',
      input: { versions: { '0.9': 10 } },
      line: 'Out of 10 clients of simpleservice 10 saw version 0.9',
    },
    {
      desc: 'two versions, the lab wording',
      input: { versions: { '0.9': 8, '1.0': 2 } },
      line: 'Out of 10 clients of simpleservice 8 saw version 0.9 and 2 saw version 1.0',
    },
    {
      desc: 'three versions',
      input: { versions: { '0.9': 8, '1.0': 1, '1.1': 1 } },
      line: 'Out of 10 clients of simpleservice 8 saw version 0.9, 1 saw version 1.0 and 1 saw version 1.1',
    },
    {
      desc: 'versions sorted numerically, integer-like keys included',
      input: { versions: { '1': 3, '0.9': 5, '0.10': 2 } },
      line: 'Out of 10 clients of simpleservice 5 saw version 0.9, 2 saw version 0.10 and 3 saw version 1',
    },
    {
      desc: 'other service name',
      input: { service: 'shop', clients: 3, versions: { green: 3 } },
      line: 'Out of 3 clients of shop 3 saw version green',
    },
    {
      desc: 'no client got a version',
      input: { versions: {}, unanswered: 10, errors: 10, errorReasons: [{ reason: 'HTTP 500', count: 10 }] },
      line: 'Out of 10 clients of simpleservice none saw a version',
    },
  ]
  for (const { desc, input, line } of cases) {
    it(desc, () => {
      expect(firstLine(report(input))).toBe(line)
      expect(formatReport(report(input)).split('\n')[0]).toBe(line)
    })
  }
})

describe('formatReport further lines', () => {
  it('prints only the first line for one clean request per client', () => {
    expect(formatReport(report({ versions: { '0.9': 8, '1.0': 2 } }))).toBe(
      'Out of 10 clients of simpleservice 8 saw version 0.9 and 2 saw version 1.0\n',
    )
  })

  it('reports stickiness and errors with several requests per client', () => {
    const text = formatReport(report({ versions: { '0.9': 10 }, requestsPerClient: 2000, requests: 20000 }))
    expect(text.split('\n')).toEqual([
      'Out of 10 clients of simpleservice 10 saw version 0.9',
      'Sticky violations: 0 clients saw more than one version',
      'Errors: 0 of 20000 requests failed',
      '',
    ])
  })

  it('names the most common error reasons and the clients without an answer', () => {
    const text = formatReport(
      report({
        versions: { '0.9': 9 },
        errors: 7,
        unanswered: 1,
        errorReasons: [
          { reason: 'HTTP 500', count: 3 },
          { reason: 'ECONNRESET', count: 2 },
          { reason: 'timeout', count: 1 },
          { reason: 'no version in response', count: 1 },
        ],
      }),
    )
    expect(text).toContain('Errors: 7 of 10 requests failed (HTTP 500: 3, ECONNRESET: 2, timeout: 1, …)\n')
    expect(text).toContain('No answer: 1 client got no version (every request failed)\n')
    expect(text).not.toContain('Sticky')
  })

  it('counts one sticky violation in the singular', () => {
    const text = formatReport(report({ versions: { '0.9': 10 }, requestsPerClient: 2, stickyViolations: 1 }))
    expect(text).toContain('Sticky violations: 1 client saw more than one version\n')
  })

  it('compares with stored identities in both directions for two versions', () => {
    const text = formatReport(
      report({
        versions: { '0.9': 8, '1.0': 2 },
        comparison: { source: 'ids.json', compared: 10, versions: ['0.9', '1.0'], moved: { '0.9->1.0': 12 } },
      }),
    )
    expect(text).toContain('Compared with ids.json: 12 clients moved 0.9 → 1.0, 0 moved 1.0 → 0.9\n')
  })

  it('lists only actual moves for three versions, and says so when nothing moved', () => {
    const three = formatReport(
      report({
        comparison: {
          source: 'ids.json',
          compared: 10,
          versions: ['0.9', '1.0', '1.1'],
          moved: { '0.9->1.1': 1, '1.0->1.1': 2 },
        },
      }),
    )
    expect(three).toContain('Compared with ids.json: 1 client moved 0.9 → 1.1, 2 moved 1.0 → 1.1\n')
    const none = formatReport(
      report({ comparison: { source: 'ids.json', compared: 10, versions: ['0.9'], moved: {} } }),
    )
    expect(none).toContain('Compared with ids.json: 0 clients moved\n')
  })
})

describe('reportJson', () => {
  it('starts with the documented keys in order', () => {
    const json = JSON.stringify(reportJson(report({ versions: { '0.9': 8, '1.0': 2 } })))
    expect(json.startsWith('{"clients":10,"versions":{"0.9":8,"1.0":2},"stickyViolations":0,"errors":0')).toBe(true)
  })

  it('adds moves and error reasons after them', () => {
    const json = reportJson(
      report({
        errors: 2,
        errorReasons: [{ reason: 'HTTP 500', count: 2 }],
        comparison: { source: 'f', compared: 10, versions: ['0.9', '1.0'], moved: { '0.9->1.0': 12 } },
      }),
    )
    expect(Object.keys(json).slice(0, 4)).toEqual(['clients', 'versions', 'stickyViolations', 'errors'])
    expect(json.moved).toEqual({ '0.9->1.0': 12 })
    expect(json.errorReasons).toEqual({ 'HTTP 500': 2 })
  })
})

describe('reportExitCode', () => {
  it('is 0 only without errors and sticky violations', () => {
    expect(reportExitCode(report({}))).toBe(0)
    expect(reportExitCode(report({ errors: 1 }))).toBe(1)
    expect(reportExitCode(report({ stickyViolations: 1 }))).toBe(1)
  })
})
