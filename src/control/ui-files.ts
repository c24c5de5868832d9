/**
 * The dashboard's static files (built into dist/ui by `npm run build`), read once when the admin
 * listener opens and served from memory: only names found there can be asked for, so a path can
 * never reach outside the folder.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where `npm run build` puts the dashboard, seen from dist/src/control/. */
export const BUILT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url))

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Everything the page may load comes from this origin; no inline script or style, no frames, no
 * plugins. uPlot sizes its elements through the CSSOM, which style-src does not govern.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

interface UiFile {
  readonly body: Buffer
  readonly type: string
  readonly etag: string
}

/** The built dashboard, by path relative to its folder (`index.html`, `vendor/uPlot.iife.min.js`). */
export class UiFiles {
  private constructor(
    readonly dir: string,
    readonly files: ReadonlyMap<string, UiFile>,
  ) {}

  /** Reads every servable file under `dir`; a missing folder gives an empty set (not built). */
  static async load(dir: string = BUILT_UI_DIR): Promise<UiFiles> {
    const files = new Map<string, UiFile>()
    let names: string[]
    try {
      names = await readdir(dir, { recursive: true })
    } catch {
      return new UiFiles(dir, files)
    }
    for (const name of names) {
      const type = CONTENT_TYPES[extname(name)]
      if (type === undefined) continue
      const body = await readFile(join(dir, name)).catch(() => undefined)
      if (body === undefined) continue
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
      files.set(relative(dir, join(dir, name)).split(sep).join('/'), { body, type, etag })
    }
    return new UiFiles(dir, files)
  }

  /** Whether the dashboard was built (its index.html is there). */
  get built(): boolean {
    return this.files.has('index.html')
  }

  /**
   * Answers with the file at `path`, or returns false when there is none. Files are revalidated on
   * every load (no-cache with an ETag): their names carry no version, and a rebuild must show.
   */
  serve(res: ServerResponse, path: string, ifNoneMatch: string | undefined): boolean {
    const file = this.files.get(path === '' ? 'index.html' : path)
    if (file === undefined) return false
    const headers = {
      'content-type': file.type,
      'cache-control': 'no-cache',
      etag: file.etag,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    }
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === file.etag)) {
      res.writeHead(304, headers)
      res.end()
      return true
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.length })
    res.end(file.body)
    return true
  }
}
