/**
 * A value the simple service puts in a body: strings, booleans, null and objects of those.
 * Numbers and arrays are left out on purpose: the original never sends them.
 */
export type PyJsonValue = string | boolean | null | { readonly [key: string]: PyJsonValue }

// Python's ESCAPE_ASCII: a backslash, a quote, or anything outside printable ASCII (space..tilde).
const NEEDS_ESCAPE = /[\\"\u0000-\u001f\u007f-\uffff]/

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '"': '\\"',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
}

/**
 * Encodes a string as Python's `json.dumps` does with `ensure_ascii=True`: short escapes for
 * `\\ " \b \f \n \r \t`, `\uXXXX` (lower-case hex) for every other code unit outside space..tilde.
 * JS strings are UTF-16, so a character outside the BMP comes out as its surrogate pair, as in Python.
 */
export function pythonJsonString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `"${value}"`
  let out = '"'
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!
    const code = value.charCodeAt(i)
    if (code >= 0x20 && code < 0x7f && ch !== '\\' && ch !== '"') {
      out += ch
      continue
    }
    out += SHORT_ESCAPES[ch] ?? `\\u${code.toString(16).padStart(4, '0')}`
  }
  return out + '"'
}

/**
 * Serialises like Python's `json.dumps(value)` with its defaults: `", "` between items, `": "`
 * between key and value, ASCII-only output, keys in insertion order, no trailing newline.
 */
export function pythonJsonDumps(value: PyJsonValue): string {
  if (typeof value === 'string') return pythonJsonString(value)
  if (value === true) return 'true'
  if (value === false) return 'false'
  if (value === null) return 'null'
  let out = '{'
  let first = true
  for (const key of Object.keys(value)) {
    out += (first ? '' : ', ') + pythonJsonString(key) + ': ' + pythonJsonDumps(value[key]!)
    first = false
  }
  return out + '}'
}

/**
 * Tornado's `json_encode`, which the original calls: `json.dumps` plus `</` → `<\/`, so the
 * output can sit inside a `<script>` element.
 */
export function tornadoJsonEncode(value: PyJsonValue): string {
  const json = pythonJsonDumps(value)
  return json.includes('</') ? json.replaceAll('</', '<\\/') : json
}
