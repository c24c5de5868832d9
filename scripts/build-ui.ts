/**
 * Builds the dashboard into dist/ui: a clean folder, the page's TypeScript compiled with its own
 * tsconfig (DOM types, browser modules), its static files, and uPlot copied from its npm package
 * (with its licence), so the admin listener serves everything from the proxy itself.
 *
 *   node dist/scripts/build-ui.js      (part of `npm run build`)
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const SOURCE = join(REPO, 'ui')
const OUT = join(REPO, 'dist', 'ui')
/** The page's own files, as they are. */
const STATIC_FILES = ['index.html', 'dashboard.css', 'favicon.svg']
/** From the uplot package: the minified browser build (a classic script defining `uPlot`), its CSS, its licence. */
const UPLOT_FILES: readonly [from: string, to: string][] = [
  ['dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  ['dist/uPlot.min.css', 'uPlot.min.css'],
  ['LICENSE', 'uPlot.LICENSE.txt'],
]

const require = createRequire(import.meta.url)

rmSync(OUT, { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(SOURCE, 'tsconfig.json')], { stdio: 'inherit' })
for (const name of STATIC_FILES) copyFileSync(join(SOURCE, name), join(OUT, name))
const uplot = dirname(require.resolve('uplot/package.json'))
mkdirSync(join(OUT, 'vendor'), { recursive: true })
for (const [from, to] of UPLOT_FILES) copyFileSync(join(uplot, from), join(OUT, 'vendor', to))
