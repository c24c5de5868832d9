/**
 * How attempts on an instance end, as the data plane reports them. The data plane classifies and
 * counts; health decides (Envoy's outlier detection: the request path calls
 * `putHttpResponseCode`/`putResult`, the detector ejects).
 */
import type { InstanceId } from './instance.js'

/** How a failed attempt is classified, for retries, for the answer and for health. */
export type FailureKind = 'connect' | 'reset' | 'timeout' | 'other'

/** Every kind, in the order metrics and reports list them. */
export const FAILURE_KINDS: readonly FailureKind[] = Object.freeze(['connect', 'reset', 'timeout', 'other'])

/**
 * Where a data plane reports outcomes that may matter to health. Only failures and 5xx answers
 * are reported, with the streak they extend, so a successful request reports nothing. Health
 * implements it in a single process; a cluster worker forwards to the primary, whose aggregate
 * calls health's (with the longest streak any worker saw).
 */
export interface OutcomeSink {
  /** An attempt on `instance` failed with `kind`; `inARow` attempts in a row have failed now. */
  attemptFailed(instance: InstanceId, kind: FailureKind, inARow: number): void
  /** `instance` answered 5xx; `inARow` of its answers in a row were 5xx now. */
  answered5xx(instance: InstanceId, inARow: number): void
}

interface ErrorWithCode {
  code?: unknown
  syscall?: unknown
}

/** Classifies an undici / socket error. */
export function classifyFailure(error: Error): FailureKind {
  const { code, syscall } = error as ErrorWithCode
  // A closed pool (instance drained between snapshot read and dispatch) sent nothing either.
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'ECONNREFUSED' ||
    code === 'UND_ERR_CLOSED' ||
    code === 'UND_ERR_DESTROYED' ||
    syscall === 'connect'
  ) {
    return 'connect'
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout'
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return 'reset'
  return 'other'
}
