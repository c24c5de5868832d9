import { isIP } from 'node:net'
import { mergeEndpoints, type Endpoint, type Resolution, type Resolver } from './types.js'

/**
 * Parses `host:port` (IPv6 hosts in brackets: `[::1]:9001`) into an Endpoint.
 * Throws an Error naming the bad value; call it at the boundary (config load).
 */
export function parseEndpoint(value: string): Endpoint {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value)
  const plain = /^([^:[\]\s]+):(\d+)$/.exec(value)
  const match = bracketed ?? plain
  if (!match) throw new Error(`"${value}" is not host:port (IPv6 hosts in brackets, e.g. [::1]:9001)`)
  const host = match[1]!
  const port = Number(match[2])
  if (bracketed && isIP(host) !== 6) throw new Error(`"${value}": only IPv6 addresses go in brackets`)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${value}": port must be 1..65535`)
  return { host, port }
}

/** A fixed list of backends (`"backends"` in the config): always answers the same endpoints. */
export class StaticResolver implements Resolver {
  readonly description: string
  readonly #resolution: Resolution

  /** Throws if an entry is not `host:port`. Duplicates are merged. */
  constructor(backends: readonly string[]) {
    const endpoints = Object.freeze(mergeEndpoints(backends.map(parseEndpoint)))
    this.description = `static ${backends.join(',')}`
    // An empty list is what the user configured, not a failed lookup: it is an answer.
    this.#resolution = Object.freeze({ kind: 'ok', endpoints })
  }

  async resolve(): Promise<Resolution> {
    return this.#resolution
  }
}
