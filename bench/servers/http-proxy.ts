/**
 * The Node peer users pick today: node-http-proxy 1.18.1 with a keep-alive agent.
 * Usage: http-proxy.js http://host:port
 */
import { Agent, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import httpProxy from 'http-proxy'

const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const proxy = httpProxy.createProxyServer({ target: process.argv[2]!, agent, xfwd: true })
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end()
  else res.destroy()
})
const server = createServer((req, res) => proxy.web(req, res))
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
