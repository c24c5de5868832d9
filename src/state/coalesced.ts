/**
 * Runs an async write at most once at a time; calls made while it runs fold into one more run
 * afterwards, so the last call's data is always written and a burst costs two writes, not many.
 */
export class Coalesced {
  #running: Promise<void> | undefined
  #again = false

  constructor(private readonly task: () => Promise<void>) {}

  run(): void {
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = (async () => {
      do {
        this.#again = false
        try {
          await this.task()
        } catch {
          // The task reports its own failures; the next run tries again.
        }
      } while (this.#again)
      this.#running = undefined
    })()
  }

  /** Resolves once no run is pending. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running
  }
}
