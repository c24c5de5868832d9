import { checkInstanceAddress, splitHostPort } from '../config/addresses.js'
import { mergeAddresses, type InstanceAddress, type Resolution, type Resolver } from './types.js'

/**
 * Parses `host:port` (IPv6 hosts in brackets: `[::1]:9001`) with the config's address syntax.
 * Throws an Error naming the bad value; call it at the boundary (config load).
 */
export function parseAddress(value: string): InstanceAddress {
  const problem = checkInstanceAddress(value)
  const parts = splitHostPort(value)
  if (problem !== undefined || typeof parts === 'string' || parts.port === undefined) {
    throw new Error(`"${value}": ${problem ?? 'must be host:port'}`)
  }
  return { host: parts.host, port: parts.port }
}

/** A fixed list of instances (a group's `instances` in the config): always answers the same addresses. */
export class StaticResolver implements Resolver {
  readonly description: string
  readonly #resolution: Resolution

  /** Throws if an entry is not `host:port`. Duplicates are merged. */
  constructor(instances: readonly string[]) {
    const addresses = Object.freeze(mergeAddresses(instances.map(parseAddress)))
    this.description = `static ${instances.join(',')}`
    // An empty list is what the user configured, not a failed lookup: it is an answer.
    this.#resolution = Object.freeze({ kind: 'ok', addresses })
  }

  async resolve(): Promise<Resolution> {
    return this.#resolution
  }
}
