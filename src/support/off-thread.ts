/**
 * Runs one start-up function in a short-lived worker thread and hands back its result.
 *
 * Why: config and state validation need zod, and merely having zod loaded in the isolate that
 * serves requests costs every later request ~4 % CPU (measured side by side, bench/README.md),
 * although zod never runs there. A worker thread has its own isolate, which ends with the thread.
 */
import { Worker } from 'node:worker_threads'

/** An error thrown by the function, as it crosses the thread boundary: its name and own fields. */
export interface ThrownOffThread {
  readonly name: string
  readonly message: string
  readonly fields: Readonly<Record<string, unknown>>
}

/** What the worker posts back: the function's result, or what it threw. */
export type OffThreadOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly thrown: ThrownOffThread }

/** What the worker is asked to do: import `module` (a file URL) and call its export with `args`. */
export interface OffThreadCall {
  readonly module: string
  readonly exportName: string
  readonly args: readonly unknown[]
}

const WORKER_SCRIPT = new URL('./off-thread-worker.js', import.meta.url)
// Under the test runner the sources are TypeScript, which a plain worker thread cannot load; there
// the function runs in this thread instead (the built program always uses the worker).
const FROM_SOURCES = import.meta.url.endsWith('.ts')

/**
 * Calls `exportName` of `module` (a `.js` file URL next to the caller) with structured-cloneable
 * `args`, in a worker thread. The result comes back structured-cloned (so without prototypes or
 * freezing); a thrown error is rebuilt in this thread by `revive`, and errors of the thread itself
 * (it could not start or import) are rethrown as they are.
 */
export async function callOffThread(
  module: URL,
  exportName: string,
  args: readonly unknown[],
  revive: (thrown: ThrownOffThread) => Error,
): Promise<unknown> {
  const call: OffThreadCall = { module: module.href, exportName, args }
  const outcome = FROM_SOURCES ? await callHere(call) : await callInWorker(call)
  if (!outcome.ok) throw revive(outcome.thrown)
  return outcome.value
}

/** Imports and calls the function, catching what it throws; shared by the worker and the test fallback. */
export async function callHere(call: OffThreadCall): Promise<OffThreadOutcome> {
  try {
    const module = (await import(FROM_SOURCES ? call.module.replace(/\.js$/, '.ts') : call.module)) as Record<string, unknown>
    const run = module[call.exportName]
    if (typeof run !== 'function') throw new TypeError(`${call.module} has no function ${call.exportName}`)
    return { ok: true, value: await (run as (...args: readonly unknown[]) => unknown)(...call.args) }
  } catch (error) {
    return { ok: false, thrown: describeThrown(error) }
  }
}

function describeThrown(error: unknown): ThrownOffThread {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} }
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value
  }
  return { name: error.name, message: error.message, fields }
}

function callInWorker(call: OffThreadCall): Promise<OffThreadOutcome> {
  return new Promise((resolve, reject) => {
    // No node flags: the thread needs none, and it would refuse some the process runs with
    // (V8 flags such as the bin's --max-semi-space-size, --input-type); V8 flags apply to the
    // whole process anyway.
    const worker = new Worker(WORKER_SCRIPT, { workerData: call, execArgv: [] })
    let outcome: OffThreadOutcome | undefined
    worker.once('message', (message: OffThreadOutcome) => {
      outcome = message
    })
    worker.once('error', reject)
    // The thread ends by itself once it has answered; its answer is complete only then.
    worker.once('exit', (code) => {
      if (outcome !== undefined) resolve(outcome)
      else reject(new Error(`the worker thread for ${call.exportName} exited with code ${code} without an answer`))
    })
  })
}

/** A call to a standing worker, and its answer. */
export interface StandingCall {
  readonly id: number
  readonly args: readonly unknown[]
}
export interface StandingAnswer {
  readonly id: number
  readonly outcome: OffThreadOutcome
}

const STANDING_SCRIPT = new URL('./standing-worker.js', import.meta.url)

/**
 * Like callOffThread, for a function called again and again (a state read from etcd on every
 * change): one worker thread stays up with the module loaded, so a call costs a message, not a
 * thread start (~100 ms). The thread does not keep the process alive; `close()` ends it.
 */
export class StandingWorker {
  readonly #call: Omit<OffThreadCall, 'args'>
  readonly #pending = new Map<number, (outcome: OffThreadOutcome) => void>()
  #worker: Worker | undefined
  #nextId = 1

  constructor(
    module: URL,
    exportName: string,
    private readonly revive: (thrown: ThrownOffThread) => Error,
  ) {
    this.#call = { module: module.href, exportName }
  }

  async call(args: readonly unknown[]): Promise<unknown> {
    const outcome = FROM_SOURCES ? await callHere({ ...this.#call, args }) : await this.#send(args)
    if (!outcome.ok) throw this.revive(outcome.thrown)
    return outcome.value
  }

  /** Starts the thread and loads the module now, so the first real call does not wait for either. */
  warm(...args: readonly unknown[]): void {
    if (!FROM_SOURCES) void this.#send(args)
  }

  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #send(args: readonly unknown[]): Promise<OffThreadOutcome> {
    const worker = this.#start()
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      worker.postMessage({ id, args } satisfies StandingCall)
    })
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(STANDING_SCRIPT, { workerData: this.#call, execArgv: [] })
    worker.unref()
    worker.on('message', ({ id, outcome }: StandingAnswer) => {
      const resolve = this.#pending.get(id)
      this.#pending.delete(id)
      resolve?.(outcome)
    })
    const fail = (message: string) => {
      if (this.#worker === worker) this.#worker = undefined
      for (const resolve of this.#pending.values()) resolve({ ok: false, thrown: { name: 'Error', message, fields: {} } })
      this.#pending.clear()
    }
    worker.on('error', (error) => fail(`the worker thread for ${this.#call.exportName} failed: ${error.message}`))
    worker.on('exit', (code) => fail(`the worker thread for ${this.#call.exportName} exited with code ${code}`))
    this.#worker = worker
    return worker
  }
}
