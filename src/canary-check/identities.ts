import { randomBytes, randomUUID } from 'node:crypto'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { z } from 'zod'
import { COOKIE_NAME, COOKIE_VALUE } from './cookie-jar.js'
import { CanaryCheckError } from './errors.js'
import type { StoredClient } from './types.js'

/** Marks the file's layout, so a later layout can be told apart. */
export const IDENTITIES_FORMAT = 'zdd-canary-identities/1'

/** Default number of clients without stored identities. */
export const DEFAULT_CLIENTS = 10

// Ids and cookies go back into request headers, so only what a header can carry unchanged is accepted.
const identitiesSchema = z.object({
  format: z.literal(IDENTITIES_FORMAT),
  clients: z
    .array(
      z.object({
        id: z.string().regex(/^[\x21-\x7e]{1,200}$/, 'expected 1 to 200 visible ASCII characters'),
        version: z.string().nullable(),
        cookies: z.array(
          z.object({
            name: z.string().regex(COOKIE_NAME, 'expected a cookie name'),
            value: z.string().regex(COOKIE_VALUE, 'expected a cookie value'),
            expiresAt: z.number().optional(),
          }),
        ),
      }),
    )
    .min(1),
})

/** Parses an identities file's text; throws a one-line `input` error naming the file and the field. */
export function parseIdentities(text: string, file: string): StoredClient[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new CanaryCheckError(`${file} is not a valid identities file: not JSON`, 'input')
  }
  const parsed = identitiesSchema.safeParse(data)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const where = issue.path.length > 0 ? issue.path.join('.') : 'top level'
    const message = issue.message.split('\n')[0]
    throw new CanaryCheckError(`${file} is not a valid identities file: ${where}: ${message}`, 'input')
  }
  const seen = new Set<string>()
  for (const { id } of parsed.data.clients) {
    if (seen.has(id)) {
      throw new CanaryCheckError(`${file} is not a valid identities file: client id ${id} appears twice`, 'input')
    }
    seen.add(id)
  }
  // Rebuilt field by field, so unknown keys in the file do not travel on.
  return parsed.data.clients.map((client) => ({
    id: client.id,
    version: client.version,
    cookies: client.cookies.map(({ name, value, expiresAt }) =>
      expiresAt === undefined ? { name, value } : { name, value, expiresAt },
    ),
  }))
}

/** Reads stored identities; undefined when the file does not exist. */
export async function readIdentities(file: string): Promise<StoredClient[] | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CanaryCheckError(`cannot read ${file}: ${(error as Error).message}`, 'input')
  }
  return parseIdentities(text, file)
}

/** The file's text: a small header, then one client per line so that runs diff well. */
export function serializeIdentities(clients: readonly StoredClient[], url: string, service: string): string {
  const head = JSON.stringify({ format: IDENTITIES_FORMAT, url, service, updatedAt: new Date().toISOString() })
  const lines = clients.map(({ id, version, cookies }) => JSON.stringify({ id, version, cookies }))
  return `${head.slice(0, -1)},"clients":[\n${lines.join(',\n')}\n]}\n`
}

/** Writes identities atomically: a temporary file in the same folder, then a rename over the old one. */
export async function writeIdentities(
  file: string,
  clients: readonly StoredClient[],
  url: string,
  service: string,
): Promise<void> {
  const suffix = `${process.pid}.${randomBytes(4).toString('hex')}`
  const temporary = join(dirname(file), `.${basename(file)}.${suffix}.tmp`)
  try {
    // Cookies can be session secrets, so the file is private to the user.
    await writeFile(temporary, serializeIdentities(clients, url, service), { mode: 0o600 })
    await rename(temporary, file)
  } catch (error) {
    await unlink(temporary).catch(() => undefined)
    throw new CanaryCheckError(`cannot write ${file}: ${(error as Error).message}`, 'input')
  }
}

/**
 * The clients of a run: the stored ones first (same ids and cookies), then new ones up to `requested`.
 * Without `requested` the run has as many clients as were stored (or DEFAULT_CLIENTS); asking for fewer
 * than were stored is a usage error, since the comparison would silently drop clients.
 */
export function planClients(
  stored: readonly StoredClient[] | undefined,
  requested: number | undefined,
  source: string,
): StoredClient[] {
  const have = stored?.length ?? 0
  const count = requested ?? (have > 0 ? have : DEFAULT_CLIENTS)
  if (count < have) {
    throw new CanaryCheckError(
      `CLIENTS is ${count} but ${source} holds ${have} clients; omit CLIENTS or give at least ${have}`,
      'usage',
    )
  }
  const clients = stored ? [...stored] : []
  while (clients.length < count) clients.push({ id: randomUUID(), cookies: [], version: null })
  return clients
}
