/**
 * An error meant for the user: printed as one line on stderr, then exit with `exitCode`: 1 failed,
 * 2 bad usage, 3 done but not cleanly (a cut-over's drain cut requests).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message)
    this.name = 'CliError'
  }
}
