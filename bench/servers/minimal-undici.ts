/**
 * The yardstick: the smallest sensible undici proxy (one Pool, `stream()` straight into the
 * response, hop-by-hop headers dropped, nothing else). Usage: minimal-undici.js http://host:port
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool, type Dispatcher } from 'undici'

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'])
const pool = new Pool(process.argv[2]!, { connections: 256, pipelining: 1 })

const server = createServer((req, res) => {
  const headers: Record<string, string | string[]> = {}
  for (const name in req.headers) if (!HOP.has(name)) headers[name] = req.headers[name]!
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  pool.stream(
    { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null, opaque: res },
    ({ statusCode, headers: upstream, opaque }) => {
      const out = opaque as typeof res
      for (const name in upstream) if (!HOP.has(name)) out.setHeader(name, upstream[name]!)
      out.statusCode = statusCode
      return out
    },
    (error) => {
      if (error === null) return
      if (res.headersSent) res.destroy()
      else res.writeHead(502).end()
    },
  )
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
