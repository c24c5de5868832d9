/** Redraws at most this often: a terminal does not need 20 000 updates. */
const REDRAW_MS = 100

/** A `\r`-updated progress line, e.g. `  4200/10000 requests`, for a terminal. */
export interface Progress {
  update(done: number, total: number): void
  /** Clears the line so the report starts on a clean one. */
  finish(): void
}

/** Progress on `stream` when it is a terminal; a no-op otherwise, so pipes and logs stay clean. */
export function createProgress(stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} }
  let last = 0
  let drawn = false
  return {
    update(done, total) {
      const now = Date.now()
      if (done < total && now - last < REDRAW_MS) return
      last = now
      drawn = true
      stream.write(`\r  ${done}/${total} requests`)
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K')
    },
  }
}
