import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { callOffThread } from '../support/off-thread.js'
import { StateError, applyChange, type Change, type CommitOutcome, type DesiredState, type StateStore } from './store.js'

// zod-based; imported only inside the validation thread (see off-thread.ts for why).
const PARSE_MODULE = new URL('../validation/state.js', import.meta.url)

/**
 * Keeps the desired state in one JSON file. A save writes a temp file in the same directory,
 * fsyncs it, renames it over the file and fsyncs the directory, so a crash at any point leaves
 * the old or the new file whole. Loading never writes: an unreadable or corrupt file stops the
 * start and stays as it is for the operator to inspect.
 */
export class FileStore implements StateStore {
  readonly kind = 'file'
  readonly path: string

  constructor(path: string) {
    // Relative paths are relative to the working directory of the proxy.
    this.path = resolve(path)
  }

  get description(): string {
    return this.path
  }

  async load(): Promise<DesiredState | undefined> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined
      throw new StateError(this.path, `cannot read: ${describeFsError(error)}`)
    }
    const state = await callOffThread(PARSE_MODULE, 'parseState', [text, this.path], (thrown) =>
      thrown.name === 'StateError'
        ? new StateError(this.path, String(thrown.fields.problem))
        : new StateError(this.path, `cannot be checked: ${thrown.message}`),
    )
    return state as DesiredState
  }

  /** Creates the directory and checks it is writable, so a bad path fails at start, not at the first change. */
  async prepare(): Promise<void> {
    const dir = dirname(this.path)
    const probe = join(dir, `.${basename(this.path)}.probe-${randomBytes(4).toString('hex')}`)
    try {
      await mkdir(dir, { recursive: true })
      const handle = await open(probe, 'wx', 0o600)
      await handle.close()
      await unlink(probe)
    } catch (error) {
      throw new StateError(this.path, `directory ${dir} is not writable: ${describeFsError(error)}`)
    }
  }

  /** The only writer of its file, so `base` is always current. */
  async commit(base: DesiredState, change: Change): Promise<CommitOutcome> {
    const next = applyChange(base, change)
    await this.save(next)
    return { committed: true, state: next }
  }

  async save(state: DesiredState): Promise<void> {
    const dir = dirname(this.path)
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
    const text = `${JSON.stringify(state, null, 2)}\n`
    try {
      const handle = await open(temp, 'wx', 0o600)
      try {
        await handle.writeFile(text, 'utf8')
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temp, this.path)
    } catch (error) {
      await unlink(temp).catch(() => {})
      throw new StateError(this.path, `cannot write: ${describeFsError(error)}`)
    }
    await syncDirectory(dir)
  }
}

/** Makes the rename itself durable. Some file systems refuse fsync on directories; the data is written anyway. */
async function syncDirectory(dir: string): Promise<void> {
  let handle
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // Best effort, see above.
  } finally {
    await handle?.close().catch(() => {})
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory'
  if (code === 'ENOSPC') return 'no space left on device'
  if (code === 'EROFS') return 'read-only file system'
  if (code === 'ENOTDIR') return 'a parent is not a directory'
  return error instanceof Error ? error.message : String(error)
}
