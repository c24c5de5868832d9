/** The worker thread of StandingWorker (off-thread.ts): answers calls of one function until ended. */
import { parentPort, workerData } from 'node:worker_threads'
import { callHere, type OffThreadCall, type StandingAnswer, type StandingCall } from './off-thread.js'

const call = workerData as Omit<OffThreadCall, 'args'>
parentPort!.on('message', ({ id, args }: StandingCall) => {
  void callHere({ ...call, args }).then((outcome) => {
    try {
      parentPort!.postMessage({ id, outcome } satisfies StandingAnswer)
    } catch (error) {
      const message = `the result of ${call.exportName} cannot cross threads: ${error instanceof Error ? error.message : String(error)}`
      parentPort!.postMessage({ id, outcome: { ok: false, thrown: { name: 'Error', message, fields: {} } } } satisfies StandingAnswer)
    }
  })
})
