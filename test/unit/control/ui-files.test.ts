import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AdminContext } from '../../../src/control/routes.js'
import { AdminServer } from '../../../src/control/server.js'
import { CONTENT_SECURITY_POLICY, UiFiles } from '../../../src/control/ui-files.js'

const dirs: string[] = []

function uiDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-ui-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

async function serve(ui: UiFiles): Promise<{ base: string; close: () => Promise<void> }> {
  const context = { ui, events: { closeAll() {} } } as unknown as AdminContext
  const server = new AdminServer({ host: '127.0.0.1', port: 0, context, logger: pino({ level: 'silent' }) })
  const port = await server.listen()
  return { base: `http://127.0.0.1:${port}`, close: () => server.close() }
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const response = await request(url, { method, headers })
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
}

describe('the dashboard files on the admin listener', () => {
  let base: string
  let close: () => Promise<void>

  beforeAll(async () => {
    const dir = uiDir({
      'index.html': '<!doctype html><title>zdd</title>',
      'app.js': 'export {}\n',
      'vendor/chart.js': 'var chart = 1\n',
      'style.css': 'body{}\n',
      'notes.md': 'not served',
    })
    ;({ base, close } = await serve(await UiFiles.load(dir)))
  })

  afterAll(async () => {
    await close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('serves index.html at / and /ui/, with a strict policy and no sniffing', async () => {
    for (const path of ['/', '/ui/']) {
      const answer = await get(`${base}${path}`)
      expect(answer.status).toBe(200)
      expect(answer.text).toBe('<!doctype html><title>zdd</title>')
      expect(answer.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(answer.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY)
      expect(answer.headers['x-content-type-options']).toBe('nosniff')
      expect(answer.headers['cache-control']).toBe('no-cache')
    }
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'none'/)
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|\*|http/)
  })

  it('redirects /ui to /ui/', async () => {
    const answer = await get(`${base}/ui`)
    expect(answer.status).toBe(308)
    expect(answer.headers.location).toBe('/ui/')
  })

  it('gives each kind of file its content type', async () => {
    expect((await get(`${base}/ui/app.js`)).headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect((await get(`${base}/ui/vendor/chart.js`)).text).toBe('var chart = 1\n')
    expect((await get(`${base}/ui/style.css`)).headers['content-type']).toBe('text/css; charset=utf-8')
  })

  it('answers 304 to a matching If-None-Match, and HEAD without a body', async () => {
    const first = await get(`${base}/ui/app.js`)
    const etag = String(first.headers.etag)
    expect(etag).toMatch(/^"[\w-]+"$/)
    const again = await get(`${base}/ui/app.js`, { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.text).toBe('')
    const head = await get(`${base}/ui/app.js`, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength('export {}\n')))
    expect(head.text).toBe('')
  })

  it('serves nothing but the built files: 404 with the one error shape', async () => {
    for (const path of ['/ui/notes.md', '/ui/missing.js', '/ui/%2e%2e/package.json', '/ui/..%2Fpackage.json', '/ui/vendor']) {
      const answer = await get(`${base}${path}`)
      expect(answer.status, path).toBe(404)
      expect(JSON.parse(answer.text).error.code).toBe('not_found')
    }
  })

  it('says how to build the dashboard when it is not built', async () => {
    const empty = await serve(await UiFiles.load(join(tmpdir(), 'zdd-no-such-ui-folder')))
    try {
      const answer = await get(`${empty.base}/`)
      expect(answer.status).toBe(404)
      expect(JSON.parse(answer.text).error.message).toMatch(/dashboard is not built: run `npm run build`/)
    } finally {
      await empty.close()
    }
  })
})
