/** Entry of each `serve --workers N` worker process (node:cluster runs this file). */
import { runWorker } from './worker.js'

await runWorker()
