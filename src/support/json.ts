/**
 * JSON parsing with errors that say where: `JSON.parse` does the parsing, and on failure a small
 * scanner finds the line and column, because V8's messages sometimes quote the whole document
 * and sometimes give no position at all.
 */

export type JsonResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly line: number; readonly column: number; readonly problem: string }

/** Parses `text` (a leading byte-order mark is ignored). */
export function parseJson(text: string): JsonResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  try {
    return { ok: true, value: JSON.parse(body) }
  } catch (error) {
    const found = findSyntaxError(body)
    const offset = found?.offset ?? 0
    const problem = found?.problem ?? (error instanceof Error ? error.message : String(error))
    const before = body.slice(0, offset)
    const line = before.split('\n').length
    const column = offset - (before.lastIndexOf('\n') + 1) + 1
    return { ok: false, line, column, problem }
  }
}

class SyntaxProblem extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem)
  }
}

class Scanner {
  index = 0
  constructor(readonly text: string) {}

  fail(problem: string, offset = this.index): never {
    throw new SyntaxProblem(offset, problem)
  }

  describe(): string {
    if (this.index >= this.text.length) return 'end of file'
    return JSON.stringify(this.text[this.index])
  }

  skipSpace(): void {
    while (this.index < this.text.length && ' \t\n\r'.includes(this.text[this.index]!)) this.index++
  }

  expect(what: string, allowed: string): string {
    this.skipSpace()
    const char = this.text[this.index]
    if (char === undefined || !allowed.includes(char)) this.fail(`expected ${what}, found ${this.describe()}`)
    this.index++
    return char
  }

  value(): void {
    this.skipSpace()
    const char = this.text[this.index]
    if (char === '{') return this.object()
    if (char === '[') return this.array()
    if (char === '"') return this.string()
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.number()
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.index)) {
        this.index += word.length
        return
      }
    }
    this.fail(`expected a value, found ${this.describe()}`)
  }

  object(): void {
    this.index++
    this.skipSpace()
    if (this.text[this.index] === '}') {
      this.index++
      return
    }
    for (;;) {
      this.skipSpace()
      if (this.text[this.index] !== '"') {
        this.fail(`expected a property name in double quotes, found ${this.describe()}`)
      }
      this.string()
      this.expect('":"', ':')
      this.value()
      if (this.expect('"," or "}"', ',}') === '}') return
    }
  }

  array(): void {
    this.index++
    this.skipSpace()
    if (this.text[this.index] === ']') {
      this.index++
      return
    }
    for (;;) {
      this.value()
      if (this.expect('"," or "]"', ',]') === ']') return
    }
  }

  string(): void {
    this.index++
    for (;;) {
      const char = this.text[this.index]
      if (char === undefined) this.fail('unterminated string')
      if (char === '"') {
        this.index++
        return
      }
      if (char < ' ') this.fail('control character in string (escape it, e.g. \\n)')
      if (char === '\\') {
        const escape = this.text[this.index + 1]
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.index + 2, this.index + 6))) this.fail('bad \\u escape')
          this.index += 6
          continue
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) this.fail('bad escape in string')
        this.index += 2
        continue
      }
      this.index++
    }
  }

  number(): void {
    const start = this.index
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(start))
    if (!match) this.fail('malformed number', start)
    this.index += match[0].length
    const next = this.text[this.index]
    if (next !== undefined && /[0-9.eE]/.test(next)) this.fail('malformed number', start)
  }
}

function findSyntaxError(text: string): SyntaxProblem | undefined {
  const scanner = new Scanner(text)
  try {
    scanner.value()
    scanner.skipSpace()
    if (scanner.index < text.length) scanner.fail(`unexpected ${scanner.describe()} after the document`)
  } catch (thrown) {
    // Anything else (say, a stack overflow on absurd nesting) falls back to V8's message.
    return thrown instanceof SyntaxProblem ? thrown : undefined
  }
  return undefined
}
