import pino, { type Logger } from 'pino'

export type { Logger }

/**
 * The process logger: JSON lines on stdout. The data plane logs failures only; successes are
 * counted in metrics. `ZDD_LOG_LEVEL` overrides the level (e.g. `debug`, `silent`).
 */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.ZDD_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
