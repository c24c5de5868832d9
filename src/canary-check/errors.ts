/**
 * An error the canary check reports to its caller as one line: `usage` for options that make no sense
 * (the CLI exits 2), `input` for a file it cannot use (exit 1).
 */
export class CanaryCheckError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'input',
  ) {
    super(message)
    this.name = 'CanaryCheckError'
  }
}
