import { fileURLToPath } from 'node:url'

/**
 * The built file of a `src/` module (`npm test` builds before vitest runs), e.g. `builtFile('cli/main.ts')`.
 * Paths are checked against the sources' layout by the tests that use them: a moved module fails there.
 */
export function builtFile(sourcePath: string): string {
  return fileURLToPath(new URL(`../../dist/src/${sourcePath.replace(/\.ts$/, '.js')}`, import.meta.url))
}
