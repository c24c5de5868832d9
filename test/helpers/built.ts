import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The built file of a `src/` module (`npm test` builds before vitest runs), e.g. `builtFile('cli/main.ts')`.
 * Paths are checked against the sources' layout by the tests that use them: a moved module fails there.
 * `ZDD_BUILT_DIR` points the tests at another build's output directory instead of `dist/`, to show
 * that a test fails on an older build.
 */
export function builtFile(sourcePath: string): string {
  const file = `src/${sourcePath.replace(/\.ts$/, '.js')}`
  const other = process.env.ZDD_BUILT_DIR
  if (other !== undefined && other !== '') return join(other, file)
  return fileURLToPath(new URL(`../../dist/${file}`, import.meta.url))
}
