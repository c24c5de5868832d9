import type { Logger } from '../support/log.js'
import { isShared } from '../state/shared.js'
import { StoreUnavailableError, type StateStore } from '../state/store.js'
import { HttpError } from './http-errors.js'

/**
 * Throws the refusals that depend on the state rather than the request: read-only (no store),
 * store down, or a stale `ifMatch` (the If-Match revision) against `revision`, the one in force.
 */
export function assertWritable(store: StateStore | undefined, revision: number, ifMatch: number | undefined): void {
  if (store === undefined) {
    throw new HttpError('read_only', 'weights are read-only: the config has no "state" block to persist changes in')
  }
  if (isShared(store) && !store.connected) {
    throw new HttpError(
      'store_unavailable',
      `the state store is unreachable (${store.lastError ?? 'connecting'}); the change was not applied, and traffic keeps flowing on revision ${revision}`,
      { 'retry-after': '1' },
    )
  }
  if (ifMatch !== undefined && ifMatch !== revision) {
    throw new HttpError('revision_mismatch', `If-Match: revision is ${revision}, not ${ifMatch}`, {
      etag: `"${revision}"`,
    })
  }
}

/** The answer to a commit the store failed (logged): 503 when it is unreachable, 500 otherwise. */
export function storeFailure(error: unknown, logger: Logger): HttpError {
  if (error instanceof StoreUnavailableError) {
    logger.warn({ event: 'state_write_failed', outcome: error.outcome, err: error }, 'cannot write a change to the state store')
    return new HttpError('store_unavailable', error.message, { 'retry-after': '1' })
  }
  logger.error({ event: 'state_write_failed', err: error }, 'cannot persist a change; nothing was applied')
  return new HttpError('persist_failed', error instanceof Error ? error.message : String(error))
}
