/**
 * One client connection's requests, one at a time and in order. HTTP/1.1 pipelining lets a
 * client send requests before the answers to earlier ones; node:http hands them over at once, but
 * the backend must see them one after the other, as the client sent them (RFC 9112 §9.3.2), or a
 * DELETE could overtake the POST before it. So each request takes its turn on its connection: the
 * first begins at once, the others when the one before them is over.
 */
import type { Socket } from 'node:net'

/** A request that waits for its turn on its client connection. */
export interface Turn {
  /** Its turn came: go upstream. */
  begin(): void
  /** The client's connection closed: whatever runs or waits is dropped. */
  clientClosed(): void
}

/** The request a connection is serving now (null between requests). */
const CURRENT = Symbol('zdd.currentTurn')
/** Requests pipelined behind it, oldest first (rare: created on first use). */
const WAITING = Symbol('zdd.waitingTurns')

type ClientSocket = Socket & { [CURRENT]?: Turn | null; [WAITING]?: Turn[] }

/** Follows a new client connection: one 'close' listener per connection, none per request. */
export function followConnection(socket: Socket): void {
  const client = socket as ClientSocket
  client[CURRENT] = null
  socket.once('close', dropTurns)
}

/** `turn` begins now when its connection is idle, else after the requests before it. */
export function takeTurn(socket: Socket, turn: Turn): void {
  const client = socket as ClientSocket
  if (client[CURRENT] === null) {
    client[CURRENT] = turn
    turn.begin()
  } else (client[WAITING] ??= []).push(turn)
}

/** `turn` is over: the next request on its connection begins. */
export function endTurn(socket: Socket, turn: Turn): void {
  const client = socket as ClientSocket
  if (client[CURRENT] !== turn) return
  const next = client[WAITING]?.shift()
  client[CURRENT] = next ?? null
  next?.begin()
}

/** The connection's 'close' listener. */
function dropTurns(this: ClientSocket): void {
  const current = this[CURRENT]
  const waiting = this[WAITING]
  this[CURRENT] = null
  this[WAITING] = undefined
  current?.clientClosed()
  if (waiting !== undefined) for (const turn of waiting) turn.clientClosed()
}
