/** An upstream address as discovery reports it. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** `host:port`, with IPv6 hosts in brackets: the identity of an instance everywhere. */
export function endpointKey(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`
}

/** The outcome of one resolution. */
export type Resolution =
  | { readonly kind: 'ok'; readonly endpoints: readonly Endpoint[]; readonly ttlSeconds?: number }
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

/** Drops duplicates (same `endpointKey`) and sorts by key, so equal sets compare equal. */
export function mergeEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>()
  for (const endpoint of endpoints) {
    const key = endpointKey(endpoint)
    if (!byKey.has(key)) byKey.set(key, endpoint)
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, endpoint]) => endpoint)
}
