import type { Argv } from 'yargs'
import { request } from 'undici'
import { CliError } from './errors.js'

/** Default admin API address. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090'
const TIMEOUT_MS = 10_000

/** Options every admin command takes: where the API is, the token, and the output format. */
export function adminOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('admin', {
      type: 'string',
      default: process.env.ZDD_ADMIN_URL ?? DEFAULT_ADMIN_URL,
      defaultDescription: `$ZDD_ADMIN_URL or ${DEFAULT_ADMIN_URL}`,
      describe: 'admin API URL',
    })
    .option('token', {
      type: 'string',
      describe: 'Bearer token: the admin token for changes, the read token (or the admin one) for reads when the proxy sets one (default: $ZDD_ADMIN_TOKEN)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print the API answer as JSON' })
}

/** Options of the commands that change something. */
export function mutationOptions<T>(yargs: Argv<T>) {
  return adminOptions(yargs)
    .option('reason', { type: 'string', describe: 'why: kept in the history and the event' })
    .option('if-match', {
      type: 'number',
      describe: 'apply only if the revision is still REV (compare-and-set)',
      requiresArg: true,
    })
}

export interface AdminClientOptions {
  readonly admin: string
  readonly token?: string
}

/** A tiny client for the admin API: JSON in and out, failures as one-line CliErrors. */
export class AdminClient {
  readonly base: URL
  readonly #token: string | undefined

  constructor(options: AdminClientOptions) {
    try {
      this.base = new URL(options.admin)
    } catch {
      throw new CliError(`--admin: not a URL: ${options.admin}`, 2)
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new CliError(`--admin: expected an http:// URL, got ${options.admin}`, 2)
    }
    this.#token = options.token ?? process.env.ZDD_ADMIN_TOKEN
  }

  get<T>(path: string): Promise<T> {
    return this.#send<T>('GET', path, undefined, undefined)
  }

  send<T>(method: 'PUT' | 'POST', path: string, body: Record<string, unknown>, ifMatch?: number): Promise<T> {
    if (ifMatch !== undefined && !(Number.isSafeInteger(ifMatch) && ifMatch >= 0)) {
      throw new CliError('--if-match must be a revision number', 2)
    }
    return this.#send<T>(method, path, body, ifMatch)
  }

  async #send<T>(method: 'GET' | 'PUT' | 'POST', path: string, body: Record<string, unknown> | undefined, ifMatch: number | undefined): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    // Reads carry it too: a proxy with admin.readToken wants one there (the admin token is accepted).
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`
    let response
    try {
      response = await request(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      })
    } catch (error) {
      throw new CliError(`cannot reach the admin API at ${this.base.origin}: ${describe(error)} (is the proxy running? see --admin / ZDD_ADMIN_URL)`)
    }
    const text = await response.body.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new CliError(`the admin API at ${this.base.origin} answered ${response.statusCode} with a body that is not JSON`)
    }
    if (response.statusCode >= 400) {
      const error = (json as { error?: { code?: string; message?: string } }).error
      const message = error?.message ?? `HTTP ${response.statusCode}`
      throw new CliError(`${message} (${response.statusCode}${error?.code ? ` ${error.code}` : ''})`)
    }
    return json as T
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'no answer in time'
  if (code === 'ENOTFOUND') return 'unknown host'
  return error instanceof Error ? error.message : String(error)
}

/** Weights as `a=80 b=20`, in the order given. */
export function formatWeights(weights: Readonly<Record<string, number>>): string {
  return Object.entries(weights)
    .map(([group, weight]) => `${group}=${weight}`)
    .join(' ')
}
