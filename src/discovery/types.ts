/** Where an instance listens, as discovery reports it. */
export interface InstanceAddress {
  readonly host: string
  readonly port: number
}

/** `host:port`, with IPv6 hosts in brackets: the identity of an instance everywhere. */
export function formatAddress(address: InstanceAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/** The outcome of one resolution. */
export type Resolution =
  | { readonly kind: 'ok'; readonly addresses: readonly InstanceAddress[]; readonly ttlSeconds?: number }
  /** The name exists nowhere (NXDOMAIN) or has no records (NOERROR, empty). */
  | { readonly kind: 'empty'; readonly reason: string }
  /** The lookup failed (SERVFAIL, REFUSED, timeout, unreachable): keep what we had. */
  | { readonly kind: 'error'; readonly reason: string }

/**
 * Finds the instances of one group. Implementations: static (a fixed list) and dns-srv.
 * `resolve()` never throws; failures come back as values.
 */
export interface Resolver {
  readonly description: string
  resolve(): Promise<Resolution>
  /**
   * Releases timers, sockets and caches and cancels lookups in flight (they resolve to `error`).
   * Optional: resolvers that hold nothing need not implement it.
   */
  close?(): void
}

/** Drops duplicates (same `formatAddress`) and sorts by key, so equal sets compare equal. */
export function mergeAddresses(addresses: readonly InstanceAddress[]): InstanceAddress[] {
  const byKey = new Map<string, InstanceAddress>()
  for (const address of addresses) {
    const key = formatAddress(address)
    if (!byKey.has(key)) byKey.set(key, address)
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, address]) => address)
}
