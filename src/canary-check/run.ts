import { Agent } from 'undici'
import { CookieJar } from './cookie-jar.js'
import { CanaryCheckError } from './errors.js'
import { planClients, readIdentities, writeIdentities } from './identities.js'
import { probe } from './probe.js'
import type { CanaryOptions, CanaryReport, ClientResult, ErrorReason, StoredClient } from './types.js'
import { compareRuns, countByVersion } from './versions.js'

/** The simpleservice endpoint the lab's canary-check.sh asked for. */
export const DEFAULT_PATH = '/endpoint0'

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** The URL a check asks for: `/endpoint0` when the given one has no path (or just `/`) and no query. */
export function targetUrl(input: string | URL): URL {
  const url = URL.canParse(String(input)) ? new URL(input) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CanaryCheckError(`invalid URL ${String(input)}: expected http://HOST:PORT[/PATH]`, 'usage')
  }
  if (url.pathname === '/' && url.search === '') url.pathname = DEFAULT_PATH
  url.hash = ''
  return url
}

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new CanaryCheckError(`${what} must be a positive integer, got ${String(value)}`, 'usage')
  }
  return value
}

/** A client while the run goes on. */
interface LiveClient {
  readonly id: string
  readonly jar: CookieJar
  readonly seen: string[]
  readonly previousVersion: string | null
  errors: number
}

/**
 * Runs the canary check: every client makes its requests one after another with its own cookie jar
 * and id header, up to `concurrency` clients at a time over one keep-alive agent. Resolves with the
 * report whatever the requests did; rejects only with a CanaryCheckError for bad options or an
 * identities file it cannot use (which is then left untouched).
 */
export async function runCanaryCheck(options: CanaryOptions): Promise<CanaryReport> {
  const url = targetUrl(options.url)
  const requestsPerClient = positiveInteger(options.requests, 1, '--requests')
  const concurrency = positiveInteger(options.concurrency, 32, '--concurrency')
  const timeoutMs = positiveInteger(options.timeoutMs, 10_000, '--timeout')
  if (options.clients !== undefined) positiveInteger(options.clients, 0, 'CLIENTS')
  const idHeader = (options.idHeader ?? 'x-client-id').toLowerCase()
  if (!HEADER_NAME.test(idHeader)) throw new CanaryCheckError(`invalid header name: ${idHeader}`, 'usage')
  const service = options.service ?? 'simpleservice'
  if (service.trim() === '') throw new CanaryCheckError('--service must not be empty', 'usage')
  if (options.identitiesFile === '') throw new CanaryCheckError('--identities needs a file name', 'usage')
  if (options.identitiesFile !== undefined && options.identities !== undefined) {
    throw new CanaryCheckError('give identities either as a file or in memory, not both', 'usage')
  }

  const source = options.identitiesFile ?? 'previous run'
  const stored = options.identitiesFile ? await readIdentities(options.identitiesFile) : options.identities
  const planned = planClients(stored, options.clients, source)
  const clients: LiveClient[] = planned.map((client) => ({
    id: client.id,
    jar: new CookieJar(client.cookies),
    seen: [],
    previousVersion: client.version,
    errors: 0,
  }))

  const total = clients.length * requestsPerClient
  const reasons = new Map<string, number>()
  let done = 0
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 4_000 })
  try {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < clients.length) {
        const client = clients[next++]!
        for (let i = 0; i < requestsPerClient; i++) {
          const outcome = await probe({ dispatcher: agent, url, idHeader, id: client.id, jar: client.jar, timeoutMs })
          if (outcome.error !== undefined) {
            client.errors++
            reasons.set(outcome.error, (reasons.get(outcome.error) ?? 0) + 1)
          } else if (!client.seen.includes(outcome.version)) {
            client.seen.push(outcome.version)
          }
          done++
          options.onProgress?.(done, total)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker))
  } finally {
    await agent.destroy()
  }

  const results: ClientResult[] = clients.map((c) => ({ id: c.id, versions: c.seen, errors: c.errors }))
  // A client keeps its last known version when this run got none, so one failed run does not erase it.
  const identities: StoredClient[] = clients.map((c) => ({
    id: c.id,
    cookies: c.jar.cookies(),
    version: c.seen[0] ?? c.previousVersion,
  }))
  const current: StoredClient[] = clients.map((c) => ({ id: c.id, cookies: [], version: c.seen[0] ?? null }))
  const errorReasons: ErrorReason[] = [...reasons]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1))

  const report: CanaryReport = {
    service,
    url: url.href,
    clients: clients.length,
    requestsPerClient,
    requests: total,
    versions: countByVersion(current.map((c) => c.version)),
    stickyViolations: clients.filter((c) => c.seen.length > 1).length,
    errors: errorReasons.reduce((sum, r) => sum + r.count, 0),
    errorReasons,
    unanswered: clients.filter((c) => c.seen.length === 0).length,
    results,
    identities,
    ...(stored ? { comparison: compareRuns(source, stored, current) } : {}),
  }
  if (options.identitiesFile) await writeIdentities(options.identitiesFile, identities, url.href, service)
  return report
}
