import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

/**
 * The process logger: JSON lines on stdout, or readable lines (pino-pretty) when stdout is a
 * terminal. `ZDD_LOG_FORMAT` (`json` or `pretty`) overrides that choice, `ZDD_LOG_LEVEL` the level
 * (e.g. `debug`, `silent`). The data plane logs failures only; successes are counted in metrics.
 * With `sync`, JSON lines are written before the call returns.
 */
export function createLogger(name: string, { sync = false }: { readonly sync?: boolean } = {}): Logger {
  const options = {
    name,
    level: process.env.ZDD_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  const format = process.env.ZDD_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json')
  // pino's default destination writes asynchronously, and its flush(cb) does not wait for a write in
  // flight: `sync` is for output whose order against other writes to stdout matters (the demo).
  if (format !== 'pretty') return sync ? pino(options, pino.destination({ dest: 1, sync: true })) : pino(options)
  // Synchronous in this thread: a person reads it, and nothing is lost when the process exits.
  return pino(options, pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
}
