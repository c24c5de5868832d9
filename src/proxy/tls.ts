/**
 * TLS settings of a listener: modern defaults, one certificate per service (the default of the
 * listener is its first service's), and per-vhost certificates chosen by SNI. Swapped whole on a
 * reload: new handshakes get the new certificates, established connections keep theirs.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls'
import type { KeyPair } from '../config/certificates.js'
import type { TlsConfig } from '../config/types.js'

/**
 * TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only (no CBC, no SHA-1 MACs), all allowed by
 * HTTP/2 (RFC 9113 §9.2.2), as Mozilla's "intermediate" profile. TLS 1.3 suites are all strong and
 * stay OpenSSL's defaults.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/** The context options of one certificate on a listener. */
export function contextOptions(pair: KeyPair, minVersion: TlsConfig['minVersion']): SecureContextOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion,
    ciphers: TLS12_CIPHERS,
    // Every suite offered is strong: let the client pick (it knows whether it has AES hardware).
    honorCipherOrder: false,
  }
}

/** What a TLS listener serves: its default certificate and the certificates by SNI host name. */
export interface ListenerCertificates {
  readonly minVersion: TlsConfig['minVersion']
  /** The certificate for clients that send no SNI or an unknown name. */
  readonly fallback: KeyPair
  /** Host name (lower case) → certificate. */
  readonly byHost: ReadonlyMap<string, KeyPair>
}

/** The secure contexts of a listener, built once per (re)configuration. */
export class SniContexts {
  readonly fallback: SecureContextOptions
  readonly #byHost = new Map<string, SecureContext>()

  constructor(certificates: ListenerCertificates) {
    this.fallback = contextOptions(certificates.fallback, certificates.minVersion)
    const built = new Map<KeyPair, SecureContext>()
    for (const [host, pair] of certificates.byHost) {
      let context = built.get(pair)
      if (context === undefined) built.set(pair, (context = createSecureContext(contextOptions(pair, certificates.minVersion))))
      this.#byHost.set(host, context)
    }
  }

  /** The context for an SNI name; undefined: the listener's default. */
  contextFor(servername: string): SecureContext | undefined {
    return this.#byHost.get(servername.toLowerCase())
  }
}
