/** What the simple service does; `parseSimpleServiceEnv` reads it from the environment. */
export interface SimpleServiceSettings {
  /** Port to listen on; 0 lets the OS pick one. */
  readonly port: number
  /** Address to bind. */
  readonly host: string
  /** Reported in the bodies of `/endpoint0`, `/info`, `/env` and in the startup line. */
  readonly version: string
  /** `/health` waits a random integer in [healthMinMs, healthMaxMs) ms when max > min. */
  readonly healthMinMs: number
  readonly healthMaxMs: number
  /** Share of `/endpoint0` requests answered 500, in [0, 1]. */
  readonly failRate: number
  /** Delay added to every `/endpoint0` request, in ms. */
  readonly latencyMs: number
  /** No per-request access-log lines. */
  readonly quiet: boolean
}

/** The original's defaults (plus the extensions, off). */
export const DEFAULT_SETTINGS: SimpleServiceSettings = Object.freeze({
  port: 9876,
  host: '0.0.0.0',
  version: '0.5.0',
  healthMinMs: 0,
  healthMaxMs: 0,
  failRate: 0,
  latencyMs: 0,
  quiet: false,
})

/** An environment variable with a value the service cannot use; the message names it. */
export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError'
}

// Longer delays overflow Node's timers (they would fire after 1 ms).
export const MAX_DELAY_MS = 2_147_483_647

// A plain decimal as Python's float() reads it; Number() would also take '', '0x1f' and 'Infinity'.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

type Env = Readonly<Record<string, string | undefined>>

function present(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim()
  return raw === undefined || raw === '' ? undefined : raw
}

function decimal(env: Env, name: string, fallback: number): number {
  const raw = present(env, name)
  if (raw === undefined) return fallback
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isFinite(value)) throw new InvalidSettingError(`${name} must be a number, got "${raw}"`)
  return value
}

function delayMs(env: Env, name: string, integer: boolean): number {
  const value = decimal(env, name, 0)
  if (value < 0 || value > MAX_DELAY_MS || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number'
    throw new InvalidSettingError(`${name} must be ${kind} of milliseconds in 0..${MAX_DELAY_MS}, got ${value}`)
  }
  return value
}

function flag(env: Env, name: string): boolean {
  const raw = present(env, name)?.toLowerCase()
  if (raw === undefined || raw === '0' || raw === 'false') return false
  if (raw === '1' || raw === 'true') return true
  throw new InvalidSettingError(`${name} must be 1 or 0, got "${raw}"`)
}

/**
 * Reads the settings from environment variables, as the original does: `PORT0`,
 * `SIMPLE_SERVICE_VERSION`, `HEALTH_MIN`, `HEALTH_MAX`; plus `HOST`, `FAIL_RATE`, `LATENCY_MS` and
 * `SIMPLE_SERVICE_QUIET`. Empty numeric variables count as unset.
 * @throws InvalidSettingError naming the first variable that is wrong.
 */
export function parseSimpleServiceEnv(env: Env): SimpleServiceSettings {
  const portText = present(env, 'PORT0')
  let port = DEFAULT_SETTINGS.port
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN
    if (!(port <= 65535)) throw new InvalidSettingError(`PORT0 must be a port number in 0..65535, got "${portText}"`)
  }
  const healthMinMs = delayMs(env, 'HEALTH_MIN', true)
  const healthMaxMs = delayMs(env, 'HEALTH_MAX', true)
  if (healthMinMs > healthMaxMs) {
    throw new InvalidSettingError(`HEALTH_MIN (${healthMinMs}) must not be greater than HEALTH_MAX (${healthMaxMs})`)
  }
  const failRate = decimal(env, 'FAIL_RATE', 0)
  if (failRate < 0 || failRate > 1) throw new InvalidSettingError(`FAIL_RATE must be in 0..1, got ${failRate}`)
  return Object.freeze({
    port,
    host: present(env, 'HOST') ?? DEFAULT_SETTINGS.host,
    // The original keeps the variable as it is, even when empty.
    version: env.SIMPLE_SERVICE_VERSION ?? DEFAULT_SETTINGS.version,
    healthMinMs,
    healthMaxMs,
    failRate,
    latencyMs: delayMs(env, 'LATENCY_MS', false),
    quiet: flag(env, 'SIMPLE_SERVICE_QUIET'),
  })
}
