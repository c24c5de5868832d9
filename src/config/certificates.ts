/**
 * Reading the certificates a config names: every `listen.tls` and vhost `tls` pair, as PEM text.
 * Read at start and again at every reload, and checked before anything uses them (each file is
 * PEM, the key matches the certificate), so a bad file fails the start or the reload naming its
 * field, instead of the first handshake.
 */
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { ConfigError, type FieldPath } from './errors.js'
import type { CertificateFiles, Config } from './types.js'

/** A certificate chain and its key, as PEM text. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

/** A certificate as the log describes it. */
export interface CertificateSummary {
  readonly file: string
  readonly subject: string
  /** The names it is valid for (subjectAltName), as OpenSSL writes them. */
  readonly names: string
  readonly validTo: string
  readonly expired: boolean
}

/** The certificates of one TLS service: its own (the default of its vhosts) and those of vhosts with their own. */
export interface ServiceCertificates {
  readonly service: string
  readonly pair: KeyPair
  readonly vhosts: readonly { readonly host: string; readonly pair: KeyPair }[]
}

/**
 * Every certificate of a config, read and checked. Plain data: a cluster's primary reads them
 * once and hands them to its workers, so every process serves the same ones.
 */
export interface Certificates {
  readonly services: readonly ServiceCertificates[]
  readonly summaries: readonly CertificateSummary[]
}

/** A config without TLS. */
export const NO_CERTIFICATES: Certificates = Object.freeze({ services: [], summaries: [] })

/**
 * Reads every certificate and key `config` names; throws a one-line ConfigError naming `source`
 * and the field of the first that cannot be read, is not PEM, or does not match its key.
 */
export async function loadCertificates(config: Config, source: string, now = Date.now()): Promise<Certificates> {
  const services: ServiceCertificates[] = []
  const summaries: CertificateSummary[] = []
  for (const [index, service] of config.services.entries()) {
    const tls = service.listen.tls
    if (tls === undefined) continue
    const pair = await readPair(tls, source, ['services', index, 'listen', 'tls'], summaries, now)
    const vhosts: { host: string; pair: KeyPair }[] = []
    for (const vhost of service.vhostCertificates) {
      const at = service.vhosts.indexOf(vhost.host)
      vhosts.push({ host: vhost.host, pair: await readPair(vhost, source, ['services', index, 'vhosts', at, 'tls'], summaries, now) })
    }
    services.push({ service: service.name, pair, vhosts })
  }
  return { services, summaries }
}

async function readPair(files: CertificateFiles, source: string, at: FieldPath, summaries: CertificateSummary[], now: number): Promise<KeyPair> {
  const cert = await readPem(files.cert, source, [...at, 'cert'], 'CERTIFICATE')
  const key = await readPem(files.key, source, [...at, 'key'], 'PRIVATE KEY')
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch (error) {
    throw new ConfigError(source, [...at, 'cert'], `${files.cert} holds no usable certificate (${reason(error)})`)
  }
  try {
    createSecureContext({ cert, key })
  } catch (error) {
    throw new ConfigError(source, [...at, 'key'], `${files.key} cannot be used with ${files.cert} (${reason(error)})`)
  }
  const validTo = new Date(leaf.validTo)
  summaries.push({
    file: files.cert,
    subject: leaf.subject.replaceAll('\n', ', '),
    names: leaf.subjectAltName ?? '',
    validTo: validTo.toISOString(),
    expired: validTo.getTime() < now,
  })
  return { cert, key }
}

async function readPem(path: string, source: string, at: FieldPath, kind: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : reason(error)
    throw new ConfigError(source, at, `cannot read ${path}: ${why}`)
  }
  if (!text.includes('-----BEGIN ') || !text.includes(kind)) throw new ConfigError(source, at, `${path} is not a PEM file with a ${kind}`)
  return text
}

/** OpenSSL's reason, without the stack. */
function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
