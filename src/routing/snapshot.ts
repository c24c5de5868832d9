/**
 * Holds the current immutable snapshot. Readers take `current` once and keep that object for the
 * whole request; writers replace it in one assignment.
 */
export interface SnapshotSource<T> {
  readonly current: T
}

export class SnapshotHolder<T> implements SnapshotSource<T> {
  #current: T
  readonly #listeners = new Set<(next: T) => void>()

  constructor(initial: T) {
    this.#current = initial
  }

  get current(): T {
    return this.#current
  }

  swap(next: T): void {
    this.#current = next
    for (const listener of this.#listeners) listener(next)
  }

  /** Called after every swap (e.g. to push the snapshot to worker processes). */
  onSwap(listener: (next: T) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
