/**
 * The minimal fixed-response backend: a node:http server answering every request with the same small
 * JSON body (the size of simpleservice's /endpoint0). `--ports N` listens on N OS-picked loopback
 * ports in one process, so the scaling mode can list one backend as many instances.
 * Prints `ports P1,P2,…` once every port listens.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const count = Math.max(1, Number(process.argv[process.argv.indexOf('--ports') + 1] ?? 1) || 1)
const body = Buffer.from('{"host": "127.0.0.1", "version": "0.5.0", "result": "all is well"}')
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) }

function handle(req: IncomingMessage, res: ServerResponse): void {
  // A body, if any, is read and dropped so the connection stays usable.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) req.resume()
  res.writeHead(200, headers)
  res.end(body)
}

const ports: number[] = []
for (let i = 0; i < count; i++) {
  const server = createServer(handle)
  // Longer than any pause between rounds, so idle keep-alive connections from proxies survive it.
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 125_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  ports.push((server.address() as AddressInfo).port)
}
process.stdout.write(`ports ${ports.join(',')}\n`)

const stop = (): void => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
