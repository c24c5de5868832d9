import { startProcess, type Started } from './processes.js'

/**
 * The backend as a separate process, so a test can SIGKILL it. It prints `recv <x-test-id>`
 * when a POST arrives (stdout on a pipe is synchronous on Linux, so the line is out before any
 * answer), reads the body, holds the answer HOLD_MS, then answers 200 with the id as JSON.
 * Other requests (health checks) get 200 at once.
 */
const PROGRAM = `
const { createServer } = require('node:http')
const name = process.env.NAME
const holdMs = Number(process.env.HOLD_MS)
const server = createServer((req, res) => {
  const id = req.headers['x-test-id'] || ''
  const post = req.method === 'POST'
  if (post) process.stdout.write('recv ' + id + '\\n')
  let bytes = 0
  req.on('data', (chunk) => { bytes += chunk.length })
  req.on('end', () => {
    const answer = () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ id, instance: name, bytes }))
    }
    if (post) setTimeout(answer, holdMs)
    else answer()
  })
})
server.keepAliveTimeout = 5000
server.listen(0, '127.0.0.1', () => process.stdout.write('listening on port ' + server.address().port + '\\n'))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
`

export interface IdBackend extends Started {
  readonly name: string
  readonly port: number
  readonly address: string
  /** Request ids of the POSTs it received so far (in arrival order). */
  received(): string[]
}

/** Starts an id backend process on a free loopback port. */
export async function startIdBackend(name: string, holdMs = 300): Promise<IdBackend> {
  const started = await startProcess(process.execPath, ['-e', PROGRAM], {
    env: { NAME: name, HOLD_MS: String(holdMs) },
    waitFor: /listening on port (\d+)/,
  })
  const port = Number(started.match[1])
  return Object.assign(started, {
    name,
    port,
    address: `127.0.0.1:${port}`,
    received: () => [...started.output().matchAll(/^recv (\S*)$/gm)].map((match) => match[1]!),
  })
}
