import { describe, expect, it } from 'vitest'
import { pythonJsonDumps, pythonJsonString, tornadoJsonEncode } from '../../../src/simpleservice/python-json.js'

// Expected strings are Python 3's json.dumps output for the same input, pasted verbatim.
describe('pythonJsonString', () => {
  const cases: { desc: string; input: string; expected: string }[] = [
    { desc: 'plain ASCII', input: 'all is well', expected: String.raw`"all is well"` },
    { desc: 'empty', input: '', expected: String.raw`""` },
    { desc: 'quotes', input: 'say "hi"', expected: String.raw`"say \"hi\""` },
    { desc: 'backslashes', input: 'C:\\path\\x', expected: String.raw`"C:\\path\\x"` },
    {
      desc: 'control characters and DEL',
      input: '\b\f\n\r\t\u0000\u0001\u001f\u007f',
      expected: String.raw`"\b\f\n\r\t\u0000\u0001\u001f\u007f"`,
    },
    { desc: 'Latin-1', input: 'café ñ ß', expected: String.raw`"caf\u00e9 \u00f1 \u00df"` },
    { desc: 'CJK', input: '日本', expected: String.raw`"\u65e5\u672c"` },
    { desc: 'emoji as surrogate pairs', input: '😀 👍🏽', expected: String.raw`"\ud83d\ude00 \ud83d\udc4d\ud83c\udffd"` },
    { desc: 'line and paragraph separators', input: '\u2028\u2029', expected: String.raw`"\u2028\u2029"` },
    { desc: 'slashes untouched', input: '</script> a/b', expected: String.raw`"</script> a/b"` },
  ]
  for (const { desc, input, expected } of cases) {
    it(desc, () => expect(pythonJsonString(input)).toBe(expected))
  }
})

describe('pythonJsonDumps', () => {
  it('uses Python separators and keeps key order', () => {
    expect(pythonJsonDumps({ host: '127.0.0.1:8080', version: '0.9', result: 'all is well' })).toBe(
      '{"host": "127.0.0.1:8080", "version": "0.9", "result": "all is well"}',
    )
  })

  it('writes booleans and null as Python does', () => {
    expect(pythonJsonDumps({ healthy: true })).toBe('{"healthy": true}')
    expect(pythonJsonDumps(false)).toBe('false')
    expect(pythonJsonDumps(null)).toBe('null')
  })

  it('nests objects and escapes keys', () => {
    expect(pythonJsonDumps({ a: {}, b: { x: '1', y: null, z: false }, 'é': 'ü' })).toBe(
      String.raw`{"a": {}, "b": {"x": "1", "y": null, "z": false}, "\u00e9": "\u00fc"}`,
    )
  })

  it('has no trailing newline', () => {
    expect(pythonJsonDumps({}).endsWith('}')).toBe(true)
  })
})

describe('tornadoJsonEncode', () => {
  it('escapes </ like tornado.escape.json_encode', () => {
    expect(tornadoJsonEncode({ host: 'a</b></c' })).toBe(String.raw`{"host": "a<\/b><\/c"}`)
  })

  it('equals json.dumps otherwise', () => {
    expect(tornadoJsonEncode({ host: 'a/b<c' })).toBe('{"host": "a/b<c"}')
  })
})
