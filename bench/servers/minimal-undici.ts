/**
 * The yardstick: the smallest sensible undici proxy. One Pool, undici's fastest path (`dispatch`
 * with a small handler) writing straight into the response, hop-by-hop headers dropped, nothing
 * else. Usage: minimal-undici.js http://host:port [http://host:port …] — with several upstreams each
 * request goes to one of them at random (the scaling mode's control: what spreading over N pools
 * costs undici itself).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool, type Dispatcher } from 'undici'

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'expect'])
const pools = process.argv.slice(2).map((origin) => new Pool(origin, { connections: 256, pipelining: 1 }))
const single = pools.length === 1 ? pools[0]! : undefined

class Forward implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}
  onRequestStart(): void {}
  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    const list: string[] = []
    for (const name in headers) {
      const value = headers[name]!
      if (HOP.has(name)) continue
      if (typeof value === 'string') list.push(name, value)
      else for (const item of value) list.push(name, item)
    }
    this.res.writeHead(status, list)
  }
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      // A client that left never drains: let its upstream connection go instead of parking it.
      if (this.res.destroyed) return controller.abort(new Error('client left'))
      controller.pause()
      this.res.once('drain', () => controller.resume())
    }
  }
  onResponseEnd(): void {
    this.res.end()
  }
  onResponseError(_controller: Dispatcher.DispatchController, _error: Error): void {
    if (this.res.headersSent) this.res.destroy()
    else this.res.writeHead(502).end()
  }
}

const server = createServer((req, res) => {
  const headers: string[] = []
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!)
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  const pool = single ?? pools[Math.floor(Math.random() * pools.length)]!
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null }, new Forward(res))
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
