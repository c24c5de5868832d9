/** Runs async tasks one at a time, in the order given; a task that fails does not stop the next. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task)
    this.#tail = run.catch(() => {})
    return run
  }

  /** Settles once every task given so far has. */
  idle(): Promise<unknown> {
    return this.#tail
  }
}
