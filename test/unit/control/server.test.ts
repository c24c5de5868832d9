import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { AdminContext } from '../../../src/control/routes.js'
import { AdminServer } from '../../../src/control/server.js'

describe('AdminServer.listen', () => {
  // The config validator refuses this too; the listener checks again at bind time.
  for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
    it(`refuses ${host} without a token`, async () => {
      const server = new AdminServer({ host, port: 0, context: {} as AdminContext, logger: pino({ level: 'silent' }) })
      await expect(server.listen()).rejects.toThrow(`admin: refusing to listen on ${host} without admin.token`)
      expect(server.server.listening).toBe(false)
    })
  }

  it('binds a loopback address without a token', async () => {
    const server = new AdminServer({ host: '127.0.0.1', port: 0, context: { events: { closeAll() {} } } as unknown as AdminContext, logger: pino({ level: 'silent' }) })
    expect(await server.listen()).toBeGreaterThan(0)
    await server.close()
  })
})
