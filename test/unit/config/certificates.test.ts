/** loadCertificates: each certificate and key the config names, read and checked, with the field of the first bad one. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCertificates } from '../../../src/config/certificates.js'
import { parseConfig } from '../../../src/validation/config.js'
import { makePki, type Leaf, type TestPki } from '../../helpers/certs.js'

describe('loadCertificates', () => {
  let pki: TestPki
  let main: Leaf
  let shop: Leaf
  beforeAll(() => {
    pki = makePki()
    main = pki.leaf('main', ['main.test'])
    shop = pki.leaf('shop', ['shop.test'])
    writeFileSync(join(pki.dir, 'not-pem.txt'), 'hello')
  })
  afterAll(() => pki.remove())

  const config = (tls: { cert: string; key: string }, vhostTls = shop) =>
    parseConfig(
      { services: [{ name: 's', listen: { port: 0, tls }, vhosts: ['main.test', { name: 'shop.test', tls: vhostTls }], groups: [{ name: 'a', instances: ['127.0.0.1:1'] }] }] },
      {},
      'c.json',
    )

  it('reads every pair and describes each certificate', async () => {
    const loaded = await loadCertificates(config(main), 'c.json')
    expect(loaded.services).toHaveLength(1)
    expect(loaded.services[0]!.vhosts.map((vhost) => vhost.host)).toEqual(['shop.test'])
    expect(loaded.services[0]!.pair.cert).toContain('BEGIN CERTIFICATE')
    expect(loaded.summaries.map((summary) => [summary.file, summary.subject, summary.expired])).toEqual([
      [main.cert, 'CN=main.test', false],
      [shop.cert, 'CN=shop.test', false],
    ])
    expect(loaded.summaries[0]!.names).toContain('DNS:main.test')
  })

  it.each([
    ['a missing file', () => config({ cert: join('/nonexistent', 'c.pem'), key: main.key }), () => 'c.json: services[0].listen.tls.cert: cannot read /nonexistent/c.pem: no such file'],
    [
      'a file that is not PEM',
      () => config({ cert: join(pki.dir, 'not-pem.txt'), key: main.key }),
      () => `c.json: services[0].listen.tls.cert: ${join(pki.dir, 'not-pem.txt')} is not a PEM file with a CERTIFICATE`,
    ],
    ['a key of another certificate', () => config(main, { cert: shop.cert, key: main.key }), () => `c.json: services[0].vhosts[1].tls.key: ${main.key} cannot be used with ${shop.cert}`],
  ])('names the field of %s', async (_desc, make, message) => {
    await expect(loadCertificates(make(), 'c.json')).rejects.toThrow(message())
  })
})
