/**
 * Debian's Chromium driven by playwright-core, for the dashboard test and the dashboard soak.
 * `.ci/run` installs the `chromium` package; playwright-core never downloads a browser of its own.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/**
 * Headless, no sandbox (tests run as root), and nothing that reaches for the network on its own:
 * the machine has none beyond loopback, and the page must not need it either.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface Browser {
  readonly context: BrowserContext
  /** Closes the browser and removes its profile. */
  close(): Promise<void>
}

/** Starts Chromium with a fresh, empty profile (user data dir) of its own. */
export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; bash .ci/run does it)`)
  }
  const profile = mkdtempSync(join(tmpdir(), 'zdd-chromium-'))
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport,
    })
    return {
      context,
      async close() {
        await context.close()
        rmSync(profile, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(profile, { recursive: true, force: true })
    throw error
  }
}
