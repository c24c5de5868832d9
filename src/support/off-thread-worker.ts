/** The worker thread of off-thread.ts: runs the one call it was started for, posts the outcome, ends. */
import { parentPort, workerData } from 'node:worker_threads'
import { callHere, type OffThreadCall, type OffThreadOutcome } from './off-thread.js'

const call = workerData as OffThreadCall
const outcome = await callHere(call)
try {
  parentPort!.postMessage(outcome)
} catch (error) {
  // A result that cannot be cloned is a programming error; say so rather than leave the caller waiting.
  const message = `the result of ${call.exportName} cannot cross threads: ${error instanceof Error ? error.message : String(error)}`
  parentPort!.postMessage({ ok: false, thrown: { name: 'Error', message, fields: {} } } satisfies OffThreadOutcome)
}
