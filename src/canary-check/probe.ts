import { request, type Dispatcher } from 'undici'
import type { CookieJar } from './cookie-jar.js'

/** The group header a zdd-proxy adds when `exposeGroupHeader` is on; it wins over the body. */
export const GROUP_HEADER = 'x-zdd-group'

/** Bodies past this size are not read for a version: simpleservice answers in well under 100 bytes. */
const MAX_BODY_BYTES = 1 << 20

/** What one request showed: a version, or why it counts as an error. */
export type ProbeOutcome = { readonly version: string; readonly error?: undefined } | { readonly error: string }

/** One client's request: GET `url` with the client's id header and cookies. */
export interface ProbeRequest {
  readonly dispatcher: Dispatcher
  readonly url: URL
  readonly idHeader: string
  readonly id: string
  readonly jar: CookieJar
  readonly timeoutMs: number
}

/** Makes one request and finds the version it shows. Never throws: failures come back as `error`. */
export async function probe(input: ProbeRequest): Promise<ProbeOutcome> {
  const headers: Record<string, string> = { [input.idHeader]: input.id, accept: 'application/json' }
  const cookie = input.jar.header()
  if (cookie !== undefined) headers.cookie = cookie
  try {
    const response = await request(input.url, {
      method: 'GET',
      headers,
      dispatcher: input.dispatcher,
      signal: AbortSignal.timeout(input.timeoutMs),
    })
    input.jar.store(response.headers['set-cookie'])
    if (response.statusCode < 200 || response.statusCode > 299) {
      await response.body.dump()
      return { error: `HTTP ${response.statusCode}` }
    }
    const group = firstValue(response.headers[GROUP_HEADER])
    if (group) {
      await response.body.dump()
      return { version: group }
    }
    return versionFromBody(await readCapped(response.body))
  } catch (error) {
    return { error: describeError(error) }
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value
  const trimmed = first?.trim()
  return trimmed ? trimmed : undefined
}

async function readCapped(body: AsyncIterable<Buffer>): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The `version` field of a JSON body, as simpleservice's `/endpoint0` sends it. */
export function versionFromBody(body: Buffer | string | undefined): ProbeOutcome {
  if (body === undefined) return { error: 'response body too large' }
  let data: unknown
  try {
    data = JSON.parse(body.toString())
  } catch {
    return { error: 'response is not JSON' }
  }
  const version = typeof data === 'object' && data !== null ? (data as { version?: unknown }).version : undefined
  if (typeof version === 'string' && version.length > 0) return { version }
  if (typeof version === 'number' && Number.isFinite(version)) return { version: String(version) }
  return { error: 'no version in response' }
}

/** A short, stable reason for a failed request, so equal failures group together. */
export function describeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error)
  const { name, code, message, errors } = error as {
    name?: unknown
    code?: unknown
    message?: unknown
    errors?: unknown
  }
  if (name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return 'timeout'
  }
  if (typeof code === 'string' && code.length > 0) return code
  // Node reports a failed connect to every address of a name as an AggregateError.
  if (Array.isArray(errors) && errors.length > 0) return describeError(errors[0])
  const text = typeof message === 'string' && message.length > 0 ? message : String(name ?? 'error')
  return text.split('\n')[0]!.slice(0, 80)
}
