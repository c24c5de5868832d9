import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { endTurn, followConnection, takeTurn, type Turn } from '../../../src/proxy/turns.js'

function turn(name: string, log: string[]): Turn {
  return { begin: () => log.push(`${name} begins`), clientClosed: () => log.push(`${name} dropped`) }
}

describe('turns on one client connection', () => {
  it('begins the first at once and each next one when the one before it ends, in order', () => {
    const socket = new Socket()
    followConnection(socket)
    const log: string[] = []
    const [a, b, c] = [turn('a', log), turn('b', log), turn('c', log)]
    takeTurn(socket, a)
    takeTurn(socket, b)
    takeTurn(socket, c)
    expect(log).toEqual(['a begins'])
    // Only the current turn can end it.
    endTurn(socket, c)
    expect(log).toEqual(['a begins'])
    endTurn(socket, a)
    endTurn(socket, b)
    expect(log).toEqual(['a begins', 'b begins', 'c begins'])
    endTurn(socket, c)
    takeTurn(socket, turn('d', log))
    expect(log.at(-1)).toBe('d begins')
    socket.destroy()
  })

  it("drops the running and the waiting ones when the connection closes", async () => {
    const socket = new Socket()
    followConnection(socket)
    const log: string[] = []
    takeTurn(socket, turn('a', log))
    takeTurn(socket, turn('b', log))
    socket.destroy()
    await new Promise((resolve) => socket.once('close', resolve))
    expect(log).toEqual(['a begins', 'a dropped', 'b dropped'])
  })
})
