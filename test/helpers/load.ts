import autocannon from 'autocannon'

export interface RunningLoad {
  /** Ends the load early; `result` then resolves. */
  stop(): void
  readonly result: Promise<autocannon.Result>
}

/** Starts bounded autocannon load (loopback only; `duration` is the upper bound in seconds). */
export function startLoad(options: autocannon.Options): RunningLoad {
  let instance: autocannon.Instance | undefined
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (error, outcome) => (error ? reject(error) : resolve(outcome)))
  })
  return { stop: () => instance?.stop(), result }
}
