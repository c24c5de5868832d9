import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from 'cockatiel'
import { Etcd3, isRecoverableError } from 'etcd3'

/**
 * The etcd client the store talks through: each unary call has `timeoutMs`, and a call that
 * fails in a way another member might not is retried there.
 */
export function createEtcdClient(endpoints: readonly string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: timeoutMs,
    // Streams (watch, keepalive) live long; every other call has the store's timeout.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    faultHandling: {
      // Up to two retries, each on another member (a commit retried after a lost answer is
      // recognised by its change id); a member failing three times in a row is skipped for a while.
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
    },
  })
}

/** An error as one short line, for logs and the store's `lastError` (gRPC messages can run long). */
export function describeError(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 300)
}
