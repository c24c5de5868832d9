/**
 * Certificates made per test run with openssl, in a temp directory removed afterwards: a CA the
 * test clients trust, and leaf certificates signed by it for the names a test asks for. Keys
 * never leave the temp directory.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Leaf {
  readonly cert: string
  readonly key: string
}

export interface TestPki {
  readonly dir: string
  /** PEM of the CA, for clients' `ca`. */
  readonly ca: string
  /** A leaf for `names` (DNS names; 127.0.0.1 is always included), written as `<file>.pem` and `<file>-key.pem`. */
  leaf(file: string, names: readonly string[], days?: number): Leaf
  remove(): void
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-pki-'))
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=zdd test CA'], dir)
  let serial = 1
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    leaf(file, names, days = 2) {
      const san = ['IP:127.0.0.1', ...names.map((name) => `DNS:${name}`)].join(',')
      writeFileSync(join(dir, `${file}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`)
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}-key.pem`, '-out', `${file}.csr`, '-subj', `/CN=${names[0] ?? file}`], dir)
      openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', String(serial++), '-days', String(days), '-out', `${file}.pem`, '-extfile', `${file}.ext`], dir)
      return { cert: join(dir, `${file}.pem`), key: join(dir, `${file}-key.pem`) }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
