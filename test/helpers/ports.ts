/**
 * Ports for servers a test stops and starts again on the same port (dnsmasq, etcd, an instance
 * that comes back). Such a port must not come from the kernel's ephemeral range: while the server
 * is down, any outgoing connection or UDP query of the parallel test files may be given it as its
 * local port, and the restart then fails with EADDRINUSE for as long as that socket lives. So
 * these ports are drawn at random below the range, where the kernel never assigns one, and checked
 * free on 127.0.0.1 (TCP, and UDP when asked) before they are handed out.
 */
import { readFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

/** The lowest port tests draw from: above the well-known and most registered service ports. */
const LOWEST = 20_000

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > LOWEST + 1_000 ? low : 32_768
  } catch {
    return 32_768
  }
}

const HIGHEST = ephemeralStart() - 1
const handedOut = new Set<number>()

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4')
    socket.once('error', () => {
      socket.close()
      resolve(false)
    })
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
  })
}

/**
 * `count` distinct ports below the ephemeral range, free on 127.0.0.1 now (TCP, and UDP with
 * `udp`), none handed out before by this process. Another test file may still draw the same port
 * between the check and its use (about 1 in 12 000 per pair), so callers retry on EADDRINUSE.
 */
export async function restartablePorts(count: number, options: { udp?: boolean } = {}): Promise<number[]> {
  const ports: number[] = []
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1_000) throw new Error(`no free port between ${LOWEST} and ${HIGHEST} after 1000 tries`)
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1))
    if (handedOut.has(port)) continue
    if (!(await tcpFree(port)) || (options.udp && !(await udpFree(port)))) continue
    handedOut.add(port)
    ports.push(port)
  }
  return ports
}

/** One port, as `restartablePorts(1, options)`. */
export async function restartablePort(options: { udp?: boolean } = {}): Promise<number> {
  return (await restartablePorts(1, options))[0]!
}
