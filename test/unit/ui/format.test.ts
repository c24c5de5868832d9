import { describe, expect, it } from 'vitest'
import { duration, percent, rate, weightsText } from '../../../ui/format.js'
import { SseParser } from '../../../ui/sse.js'

describe('dashboard figures', () => {
  const cases: { desc: string; got: string; expected: string }[] = [
    { desc: 'a share', got: percent(0.2031), expected: '20.3 %' },
    { desc: 'no data', got: percent(null), expected: '–' },
    { desc: 'an error rate to two places', got: percent(0.00125, 2), expected: '0.13 %' },
    { desc: 'microseconds as ms', got: duration(0.00375), expected: '3.75 ms' },
    { desc: 'tens of ms', got: duration(0.0882), expected: '88.2 ms' },
    { desc: 'seconds', got: duration(2.5), expected: '2.50 s' },
    { desc: 'zero', got: duration(0), expected: '0 ms' },
    { desc: 'a low rate', got: rate(12.345), expected: '12.3' },
    { desc: 'a high rate', got: rate(4321.6), expected: '4322' },
    { desc: 'weights as the CLI writes them', got: weightsText({ '0.9': 50, '1.0': 50 }), expected: '0.9=50 1.0=50' },
  ]
  for (const { desc, got, expected } of cases) it(desc, () => expect(got).toBe(expected))
})

describe('SseParser', () => {
  it('splits named events across chunks and skips heartbeats', () => {
    const parser = new SseParser()
    expect(parser.feed(': zdd-proxy events\n\nevent: rollback\ndata: {"a"')).toEqual([])
    expect(parser.feed(':1}\n\n: heartbeat\n\nevent: weights_changed\r\ndata: {}\r\n\r\n')).toEqual([
      { type: 'rollback', data: '{"a":1}' },
      { type: 'weights_changed', data: '{}' },
    ])
  })

  it('joins data lines, defaults the type to message, and ignores events without data', () => {
    const parser = new SseParser()
    expect(parser.feed('data: one\ndata: two\n\nevent: empty\n\n')).toEqual([{ type: 'message', data: 'one\ntwo' }])
  })
})
