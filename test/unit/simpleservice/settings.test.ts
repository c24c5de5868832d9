import { describe, expect, it } from 'vitest'
import { DEFAULT_SETTINGS, InvalidSettingError, parseSimpleServiceEnv } from '../../../src/simpleservice/settings.js'

describe('parseSimpleServiceEnv', () => {
  it('takes the original defaults from an empty environment', () => {
    expect(parseSimpleServiceEnv({})).toEqual(DEFAULT_SETTINGS)
    expect(DEFAULT_SETTINGS).toMatchObject({ port: 9876, host: '0.0.0.0', version: '0.5.0', quiet: false })
  })

  it('reads every variable', () => {
    const env = {
      PORT0: '0',
      HOST: '127.0.0.1',
      SIMPLE_SERVICE_VERSION: '0.9',
      HEALTH_MIN: '1000',
      HEALTH_MAX: '2000',
      FAIL_RATE: '0.25',
      LATENCY_MS: '12.5',
      SIMPLE_SERVICE_QUIET: '1',
    }
    expect(parseSimpleServiceEnv(env)).toEqual({
      port: 0,
      host: '127.0.0.1',
      version: '0.9',
      healthMinMs: 1000,
      healthMaxMs: 2000,
      failRate: 0.25,
      latencyMs: 12.5,
      quiet: true,
    })
  })

  it('compares HEALTH_MIN and HEALTH_MAX as numbers (the original compared strings)', () => {
    // As strings "900" > "1000"; as numbers it is a valid range.
    expect(parseSimpleServiceEnv({ HEALTH_MIN: '900', HEALTH_MAX: '1000' })).toMatchObject({
      healthMinMs: 900,
      healthMaxMs: 1000,
    })
  })

  it('treats empty numeric variables as unset but keeps an empty version', () => {
    expect(parseSimpleServiceEnv({ PORT0: '', HEALTH_MAX: ' ', SIMPLE_SERVICE_VERSION: '' })).toMatchObject({
      port: 9876,
      healthMaxMs: 0,
      version: '',
    })
  })

  const invalid: { desc: string; env: Record<string, string>; message: RegExp }[] = [
    { desc: 'non-numeric port', env: { PORT0: 'http' }, message: /^PORT0 must be a port number/ },
    { desc: 'port out of range', env: { PORT0: '65536' }, message: /^PORT0/ },
    { desc: 'negative port', env: { PORT0: '-1' }, message: /^PORT0/ },
    { desc: 'hex port', env: { PORT0: '0x10' }, message: /^PORT0/ },
    { desc: 'non-numeric HEALTH_MIN', env: { HEALTH_MIN: 'soon' }, message: /^HEALTH_MIN must be a number/ },
    { desc: 'negative HEALTH_MAX', env: { HEALTH_MAX: '-5' }, message: /^HEALTH_MAX must be an integer/ },
    { desc: 'fractional HEALTH_MAX', env: { HEALTH_MAX: '1.5' }, message: /^HEALTH_MAX must be an integer/ },
    { desc: 'HEALTH_MIN above HEALTH_MAX', env: { HEALTH_MIN: '2000', HEALTH_MAX: '1000' }, message: /^HEALTH_MIN \(2000\)/ },
    { desc: 'HEALTH_MIN alone', env: { HEALTH_MIN: '10' }, message: /HEALTH_MAX \(0\)/ },
    { desc: 'FAIL_RATE above 1', env: { FAIL_RATE: '1.5' }, message: /^FAIL_RATE must be in 0\.\.1/ },
    { desc: 'FAIL_RATE below 0', env: { FAIL_RATE: '-0.1' }, message: /^FAIL_RATE/ },
    { desc: 'FAIL_RATE Infinity', env: { FAIL_RATE: 'Infinity' }, message: /^FAIL_RATE must be a number/ },
    { desc: 'LATENCY_MS negative', env: { LATENCY_MS: '-1' }, message: /^LATENCY_MS/ },
    { desc: 'LATENCY_MS beyond timers', env: { LATENCY_MS: '3e9' }, message: /^LATENCY_MS/ },
    { desc: 'QUIET not a flag', env: { SIMPLE_SERVICE_QUIET: 'loud' }, message: /^SIMPLE_SERVICE_QUIET/ },
  ]
  for (const { desc, env, message } of invalid) {
    it(`rejects ${desc}`, () => {
      let caught: unknown
      try {
        parseSimpleServiceEnv(env)
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(InvalidSettingError)
      const text = (caught as Error).message
      expect(text).toMatch(message)
      expect(text).not.toContain('\n')
    })
  }
})
