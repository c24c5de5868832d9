/** GentleClose: a worker's listener closes without resetting a client or answering after `Connection: close`. */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { GentleClose } from '../../../src/proxy/gentle-close.js'

const REQUEST = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n'

interface Harness {
  readonly server: Server
  readonly closer: GentleClose
  readonly port: number
  /** Requests the server's handler has seen. */
  readonly handled: () => number
  /** Answers the oldest held request (requests are held while `hold` is on). */
  readonly release: () => void
  hold: boolean
}

const servers: Server[] = []
const sockets: Socket[] = []

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const server of servers.splice(0)) server.closeAllConnections()
})

async function start(): Promise<Harness> {
  let handled = 0
  const held: ServerResponse[] = []
  const harness = {} as Harness & { hold: boolean }
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    handled++
    if (harness.hold) held.push(res)
    else res.end('ok')
  })
  const closer = new GentleClose({ server, http: server, h2: undefined })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return Object.assign(harness, {
    server,
    closer,
    port: (server.address() as AddressInfo).port,
    handled: () => handled,
    release: () => held.shift()?.end('ok'),
    hold: false,
  })
}

/**
 * A raw client that keeps its side open after the server's FIN (as a client that has not looked
 * yet would) and records everything: bytes, end, error, close.
 */
function rawClient(port: number) {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  sockets.push(socket)
  let text = ''
  let error: Error | undefined
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => (text += chunk))
  socket.on('error', (err) => (error = err))
  const ended = new Promise<void>((resolve) => socket.once('end', resolve))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const connected = new Promise<void>((resolve) => socket.once('connect', resolve))
  const responses = () => text.split('HTTP/1.1 ').slice(1)
  const waitForResponses = async (count: number) => {
    while (responses().filter((response) => response.endsWith('ok')).length < count) {
      await new Promise((resolve) => socket.once('data', resolve))
    }
  }
  return { socket, connected, ended, closed, responses, waitForResponses, error: () => error }
}

type RawClient = ReturnType<typeof rawClient>

/** A raw client on the harness that has sent its first request. */
async function clientWithRequest(harness: Harness): Promise<RawClient> {
  const client = rawClient(harness.port)
  await client.connected
  client.socket.write(REQUEST)
  return client
}

/** The client ends its side too; the connection and the close both finish, with no error. */
async function expectCleanClose(client: RawClient, serverClosed: Promise<void>): Promise<void> {
  client.socket.end()
  await client.closed
  await serverClosed
  expect(client.error()).toBeUndefined()
}

describe('GentleClose', () => {
  it('answers the running request with Connection: close, then ignores what the client still sends and ends cleanly', async () => {
    const harness = await start()
    harness.hold = true
    const client = await clientWithRequest(harness)
    while (harness.handled() < 1) await new Promise((resolve) => setImmediate(resolve))

    const closed = harness.closer.close(30_000)
    harness.release()
    await client.waitForResponses(1)
    expect(client.responses()[0]).toMatch(/\r\nconnection: close\r\n/i)
    await client.ended
    // A client that writes its next request on receiving the response (autocannon does) gets no
    // reset: the bytes are read and dropped, and the request never reaches the handler.
    client.socket.write(REQUEST)
    client.socket.write(REQUEST)
    await expectCleanClose(client, closed)
    expect(harness.handled()).toBe(1)
    expect(client.responses()).toHaveLength(1)
  })

  it('closes a keep-alive connection that is not used any more, without a reset', async () => {
    const harness = await start()
    const client = await clientWithRequest(harness)
    await client.waitForResponses(1)
    expect(client.responses()[0]).toMatch(/\r\nconnection: keep-alive\r\n/i)

    const closed = harness.closer.close(30_000)
    await client.ended
    await expectCleanClose(client, closed)
    expect(harness.handled()).toBe(1)
  })

  it('gives every later response on a busy connection Connection: close', async () => {
    const harness = await start()
    const client = await clientWithRequest(harness)
    await client.waitForResponses(1)
    // The close starts while the client is between requests; its next one is answered, once.
    const closed = harness.closer.close(30_000)
    client.socket.write(REQUEST)
    await client.waitForResponses(2)
    expect(client.responses()[1]).toMatch(/\r\nconnection: close\r\n/i)
    await client.ended
    await expectCleanClose(client, closed)
    expect(harness.handled()).toBe(2)
  })

  it('destroys what is still open at the grace deadline', async () => {
    const harness = await start()
    harness.hold = true
    const client = await clientWithRequest(harness)
    while (harness.handled() < 1) await new Promise((resolve) => setImmediate(resolve))
    // The held request never ends: only the deadline closes the connection.
    await harness.closer.close(100)
    await client.ended
    expect(client.responses()).toHaveLength(0)
  })
})
