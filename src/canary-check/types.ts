/** Contracts of the canary check: what it is asked to do and what it reports. */

/** A cookie as a client keeps it between requests and runs. */
export interface StoredCookie {
  readonly name: string
  readonly value: string
  /** Epoch milliseconds after which the cookie is gone; absent for a session cookie. */
  readonly expiresAt?: number
}

/** One client's identity as stored between runs (`--identities FILE`). */
export interface StoredClient {
  /** Sent in the id header (default `x-client-id`) on every request. */
  readonly id: string
  readonly cookies: readonly StoredCookie[]
  /** The version of the client's first successful response in the last run that got one. */
  readonly version: string | null
}

/** What `runCanaryCheck` is asked to do. Defaults follow the CLI. */
export interface CanaryOptions {
  /** Target URL; without a path (or with just `/`) the check asks for `/endpoint0`. */
  readonly url: string | URL
  /** Distinct clients; default 10, or the number of stored identities when there are some. */
  readonly clients?: number
  /** Sequential requests per client; default 1. */
  readonly requests?: number
  /** Clients in flight at once; default 32. */
  readonly concurrency?: number
  /** Limit for one request, headers and body together; default 10000 ms. */
  readonly timeoutMs?: number
  /** Header that carries the client id; default `x-client-id`. */
  readonly idHeader?: string
  /** Service name for the report's wording; default `simpleservice`. */
  readonly service?: string
  /**
   * File of identities: reused (same ids and cookies) and compared with when it exists, then rewritten
   * atomically with this run's identities and versions.
   */
  readonly identitiesFile?: string
  /** Identities to reuse and compare with, in memory (e.g. a previous report's `identities`). */
  readonly identities?: readonly StoredClient[]
  /** Called after every request with the number done so far. */
  readonly onProgress?: (done: number, total: number) => void
}

/** What one client saw during a run. */
export interface ClientResult {
  readonly id: string
  /** Distinct versions in the order they were first seen. */
  readonly versions: readonly string[]
  readonly errors: number
}

/** A reason requests failed (`HTTP 500`, `ECONNREFUSED`, `timeout`, …) and how often. */
export interface ErrorReason {
  readonly reason: string
  readonly count: number
}

/** Client-by-client movement against stored identities. */
export interface Comparison {
  /** Where the stored identities came from: the file name, or `previous run`. */
  readonly source: string
  /** Clients that had a version in both runs. */
  readonly compared: number
  /** Versions of the compared clients in either run, in version order. */
  readonly versions: readonly string[]
  /** `"0.9->1.0": 12`; only pairs with at least one client. */
  readonly moved: Readonly<Record<string, number>>
}

/** The result of a canary check. */
export interface CanaryReport {
  readonly service: string
  /** The URL every request asked for. */
  readonly url: string
  readonly clients: number
  readonly requestsPerClient: number
  /** Requests made, `clients × requestsPerClient`. */
  readonly requests: number
  /** Clients per version of their first successful response, keys in version order. */
  readonly versions: Readonly<Record<string, number>>
  /** Clients that saw more than one version. */
  readonly stickyViolations: number
  /** Failed requests: network error, timeout, non-2xx status or no version in the response. */
  readonly errors: number
  /** Most common first. */
  readonly errorReasons: readonly ErrorReason[]
  /** Clients whose every request failed; they are in no version count. */
  readonly unanswered: number
  readonly results: readonly ClientResult[]
  /** This run's identities, to store or to pass as `identities` to a later run. */
  readonly identities: readonly StoredClient[]
  /** Present when stored identities were reused. */
  readonly comparison?: Comparison
}
