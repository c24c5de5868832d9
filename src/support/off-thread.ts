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
