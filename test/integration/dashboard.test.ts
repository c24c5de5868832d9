/**
 * The dashboard in real Chromium against the real demo lab: the live numbers against
 * canary-check's, a weight change made with a slider and the token, the chart following it, a
 * conflict, a rollback and a cut-over; every request the page makes must go to the proxy's admin
 * origin. Screenshots go to test-results/ (git-ignored).
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binomialBand } from '../helpers/binomial.js'
import { launchChromium, type Browser } from '../../bench/chromium.js'
import { runCli, startCli, stopAll, type Started } from '../helpers/processes.js'
import { admin, agent } from './control-helpers.js'

const TOKEN = 'dashboard-test-token'
const auth = { authorization: `Bearer ${TOKEN}` }
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url))
/** A correct build fails a split check less than once in 10^6 runs. */
const DELTA = 1e-6

/**
 * The little of the DOM that the callbacks run in the page use: this file is type-checked with
 * Node's types, not the DOM library, and these names exist only in the browser.
 */
interface PageElement {
  readonly textContent: string | null
  readonly outerHTML: string
  readonly dataset: Readonly<Record<string, string | undefined>>
  readonly labels?: { readonly length: number } | null
  getAttribute(name: string): string | null
  querySelectorAll(selector: string): Iterable<PageElement>
}
declare const document: { querySelectorAll(selector: string): Iterable<PageElement>; readonly documentElement: { readonly scrollWidth: number } }
declare const window: { readonly innerWidth: number }
declare const sessionStorage: Readonly<Record<string, string>> & { readonly length: number }

interface CanaryJson {
  clients: number
  versions: Record<string, number>
  errors: number
}

describe('the dashboard in Chromium, on the demo lab', () => {
  let demo: Started
  let proxyUrl: string
  let adminUrl: string
  let browser: Browser
  let page: Page
  /** Requests the page made to anywhere but the admin origin (aborted). */
  const outside: string[] = []
  const pageErrors: string[] = []

  const groupFigure = (group: string, figure: string) => page.locator(`table.groups tr[data-group="${group}"] td[data-figure="${figure}"]`).textContent()
  const notice = () => page.locator('.service-notice').textContent()
  const weightsNow = async () => (await admin(adminUrl, 'GET', '/v1/services/simpleservice')).json.weights as Record<string, number>
  const canaryCheck = async (clients: number): Promise<CanaryJson> => {
    const result = await runCli(['canary-check', proxyUrl, String(clients), '--json'])
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout) as CanaryJson
  }
  /** Until the window's request count of every group adds up to `total`. */
  const windowHolds = (total: number) =>
    expect
      .poll(async () => (await page.locator('table.groups td[data-figure="requests"]').allTextContents()).reduce((sum, text) => sum + Number(text), 0), { timeout: 15_000 })
      .toBe(total)
  /** Until an element matching `selector` shows text matching `pattern`. */
  const shows = (selector: string, pattern: RegExp, timeout = 10_000) => page.locator(selector).filter({ hasText: pattern }).first().waitFor({ timeout })
  const confirm = async (expected: RegExp) => {
    const dialog = page.locator('#confirm-dialog')
    await dialog.waitFor({ state: 'visible' })
    expect(await dialog.textContent()).toMatch(expected)
    await page.locator('#confirm-yes').click()
    await dialog.waitFor({ state: 'hidden' })
  }

  beforeAll(async () => {
    mkdirSync(RESULTS, { recursive: true })
    demo = await startCli(['demo', '--port', '0', '--admin-port', '0', '--admin-token', TOKEN], {
      waitFor: /proxy listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*dashboard on (http:\/\/127\.0\.0\.1:\d+)\//,
      timeoutMs: 30_000,
    })
    proxyUrl = demo.match[1]!
    adminUrl = demo.match[2]!
    browser = await launchChromium()
    // Anything not for the admin origin is refused and remembered: the page must need nothing else.
    await browser.context.route(
      (url) => url.origin !== adminUrl,
      (route) => {
        outside.push(route.request().url())
        return route.abort('blockedbyclient')
      },
    )
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('console', (message) => {
      // Refusals the test provokes (401, 412) are logged by Chromium as failed loads; the page shows
      // them itself. Anything else counts.
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of (401|412) /.test(message.text())) {
        pageErrors.push(message.text())
      }
    })
  })

  afterAll(async () => {
    await browser?.close()
    await demo?.stop('SIGINT')
    await stopAll()
    await agent.close()
  })

  it('serves the page read-only without a token, with every control labelled', async () => {
    const response = await page.goto(`${adminUrl}/`)
    expect(response?.headers()['content-security-policy']).toMatch(/^default-src 'none'/)
    await page.locator('table.groups tr[data-group="1.0"]').waitFor()
    expect(await page.locator('#mode').textContent()).toBe('Read-only')
    expect(await page.locator('input[type="range"][data-group="1.0"]').isDisabled()).toBe(true)
    expect(await page.locator('button.rollback').isDisabled()).toBe(true)
    expect(await groupFigure('0.9', 'weight')).toBe('80')
    expect(await groupFigure('1.0', 'share')).toBe('20.0 %')
    await expect.poll(() => page.locator('table.instances tr[data-state="healthy"]').count(), { timeout: 10_000 }).toBe(4)
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, button')]
        .filter((control) => (control.labels?.length ?? 0) === 0 && !control.getAttribute('aria-label') && (control.textContent ?? '').trim() === '')
        .map((control) => control.outerHTML),
    )
    expect(unlabelled).toEqual([])
  })

  it("shows the split canary-check measured: each group's requests and observed share", async () => {
    const report = await canaryCheck(1000)
    expect(report.errors).toBe(0)
    await windowHolds(1000)
    for (const group of ['0.9', '1.0']) {
      const count = report.versions[group] ?? 0
      expect(await groupFigure(group, 'requests')).toBe(String(count))
      expect(await groupFigure(group, 'observed')).toBe(`${((count / 1000) * 100).toFixed(1)} %`)
    }
    const [lo, hi] = binomialBand(1000, 0.2, DELTA)
    expect(report.versions['1.0']).toBeGreaterThanOrEqual(lo)
    expect(report.versions['1.0']).toBeLessThanOrEqual(hi)
  })

  it('says so when the token is refused, and goes back to read-only', async () => {
    await page.locator('#unlock').click()
    await page.locator('#token-input').fill('not-the-token')
    await page.locator('#token-dialog button[type="submit"]').click()
    await page.locator('input[type="range"][data-group="1.0"]').focus()
    await page.keyboard.press('ArrowRight')
    await page.locator('.weights-form .review').click()
    await confirm(/Set the weights of simpleservice/)
    await shows('.service-notice', /refused the admin token \(401/)
    expect(await page.locator('#mode').textContent()).toBe('Read-only')
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
    expect(await weightsNow()).toEqual({ '0.9': 80, '1.0': 20 })
    // The unsent edit is gone with the token.
    expect(await page.locator('input[type="range"][data-group="1.0"]').inputValue()).toBe('20')
  })

  it('sets the weights with the sliders and the token; /v1/services and the chart follow', async () => {
    await page.locator('#unlock').click()
    await page.locator('#token-input').fill(TOKEN)
    await page.keyboard.press('Enter')
    expect(await page.locator('#mode').textContent()).toBe('Changes enabled')
    expect(await page.evaluate(() => Object.values({ ...sessionStorage }))).toEqual([TOKEN])
    expect(page.url()).not.toContain(TOKEN)
    // Keyboard only: 0.9 from 80 down to 50, 1.0 from 20 up to 50.
    await page.locator('input[type="range"][data-group="0.9"]').focus()
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('Tab')
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight')
    expect(await page.locator('.weights-form .prediction').textContent()).toBe('If applied, about 30.0 % of returning clients move to another group.')
    await page.locator('.weights-form .review').click()
    await confirm(/0\.9=80 1\.0=20 → 0\.9=50 1\.0=50[\s\S]*About 30\.0 % of returning clients will move/)
    await shows('.service-notice', /Weights set to 0\.9=50 1\.0=50/)
    expect(await weightsNow()).toEqual({ '0.9': 50, '1.0': 50 })
    const view = (await admin(adminUrl, 'GET', '/v1/services/simpleservice')).json
    const changedAt = Date.parse(view.history.at(-1).time)

    const report = await canaryCheck(1000)
    await windowHolds(2000)
    await page.locator('details.chart-data summary').click()
    // The chart's points after the change hold exactly the second run: its split follows the new weights.
    const pointsAfter = (since: number) => {
      const sums: Record<string, number> = {}
      for (const row of document.querySelectorAll('details.chart-data tbody tr')) {
        if (Number(row.dataset.time) <= since) continue
        for (const cell of row.querySelectorAll('td[data-figure="requests"]')) {
          sums[cell.dataset.group!] = (sums[cell.dataset.group!] ?? 0) + Number(cell.textContent)
        }
      }
      return Object.values(sums).reduce((sum, count) => sum + count, 0) === 1000 ? sums : undefined
    }
    const after = (await (await page.waitForFunction(pointsAfter, changedAt)).jsonValue())!
    expect(after).toEqual({ '0.9': report.versions['0.9'] ?? 0, '1.0': report.versions['1.0'] ?? 0 })
    const [lo, hi] = binomialBand(1000, 0.5, DELTA)
    expect(after['1.0']).toBeGreaterThanOrEqual(lo)
    expect(after['1.0']).toBeLessThanOrEqual(hi)
    expect(Number(await page.locator('.charts .plot').first().getAttribute('data-points'))).toBeGreaterThan(0)
    await page.screenshot({ path: `${RESULTS}dashboard-canary-1280x800.png` })
  })

  it('shows a conflict when someone else changed the weights meanwhile, and applies nothing', async () => {
    await page.locator('input[type="range"][data-group="1.0"]').focus()
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight')
    const other = await admin(adminUrl, 'PUT', '/v1/services/simpleservice/weights', { weights: { '0.9': 70, '1.0': 30 } }, auth)
    expect(other.status).toBe(200)
    await page.locator('.weights-form .review').click()
    await confirm(/0\.9=50 1\.0=50 → 0\.9=50 1\.0=55/)
    await shows('.service-notice', /^Conflict: the weights changed since revision/)
    expect(await notice()).toMatch(/They are now 0\.9=70 1\.0=30/)
    expect(await weightsNow()).toEqual({ '0.9': 70, '1.0': 30 })
    await page.locator('.weights-form .revert').click()
    await expect.poll(() => page.locator('input[type="range"][data-group="1.0"]').inputValue()).toBe('30')
  })

  it('rolls back from the page, and the event log shows it (filtered by type)', async () => {
    await page.locator('button.rollback').click()
    await confirm(/0\.9=70 1\.0=30 → 0\.9=50 1\.0=50/)
    await shows('.service-notice', /^Rolled back: weights 0\.9=50 1\.0=50/)
    expect(await weightsNow()).toEqual({ '0.9': 50, '1.0': 50 })
    await page.locator('#event-list li[data-type="rollback"]').waitFor()
    await page.locator('#event-filter').selectOption('rollback')
    const shown = await page.locator('#event-list li:visible').evaluateAll((items) => items.map((item) => item.getAttribute('data-type')))
    expect(shown).toEqual(['rollback'])
    expect(await page.locator('#event-list li[data-type="weights_changed"]').count()).toBeGreaterThan(0)
  })

  it('cuts over and shows the drain with its counts', async () => {
    await page.locator('.cutover-to').selectOption('1.0')
    await page.locator('.cutover-drain').fill('2')
    await page.locator('.cutover-form button[type="submit"]').click()
    await confirm(/All new traffic goes to 1\.0; 0\.9 drain for up to 2 s/)
    await shows('.cutover-state', /Cut-over to 1\.0 \(from 0\.9\) at .*, revision \d+: drained; \d+ of \d+ in-flight requests completed, 0 cut\./, 15_000)
    expect(await weightsNow()).toEqual({ '0.9': 0, '1.0': 100 })
    expect(await groupFigure('1.0', 'share')).toBe('100.0 %')
  })

  it('shows a running rollout in its panel and aborts it from there', async () => {
    await shows('section.rollout .rollout-figures', /no rollout yet/)
    expect(await page.locator('section.rollout [data-action="abort"]').isHidden()).toBe(true)
    // A step that cannot be judged soon (minRequests far off): it stays at step 1 until aborted.
    const started = await admin(adminUrl, 'POST', '/v1/services/simpleservice/rollouts', { to: '0.9', steps: [50, 100], stepSeconds: 600, analysis: { minRequests: 1_000_000 } }, auth)
    expect(started.status).toBe(201)
    await shows('section.rollout .rollout-figures', /0\.9: running, step 1 of 2 \(50 %\)/)
    await shows('section.rollout .rollout-figures', /Canary figures\d* requests, errors/)
    await page.locator('section.rollout [data-action="abort"]').click()
    await confirm(/Abort the rollout of simpleservice\?[\s\S]*back to the weights before it/)
    await shows('section.rollout .rollout-figures', /0\.9: aborted, step 1 of 2/)
    expect(await weightsNow()).toEqual({ '0.9': 0, '1.0': 100 })
    expect(await page.locator('section.rollout [data-action="abort"]').isHidden()).toBe(true)
  })

  it('reads at phone width without sideways scrolling of the page; nothing came from outside the proxy', async () => {
    await page.screenshot({ path: `${RESULTS}dashboard-1280x800.png` })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth)
    await page.screenshot({ path: `${RESULTS}dashboard-phone.png`, fullPage: true })
    expect(outside).toEqual([])
    expect(pageErrors).toEqual([])
  })
})
