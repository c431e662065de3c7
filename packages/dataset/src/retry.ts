import {
  DEFAULT_RECONNECT_DEADLINE_SECONDS,
  logRetryToStderr,
  retryUntilDeadline,
  type Patience
} from '@ringtrain/proto';
import { StoreError } from './store-error.js';

/** Options of the object stores' retries (S3Store, HttpStore). */
export type RetryOptions = Patience;

let processDefaults: RetryOptions = {
  deadlineMs: DEFAULT_RECONNECT_DEADLINE_SECONDS * 1000,
  baseDelayMs: 250,
  maxDelayMs: 15_000,
  onRetry: logRetryToStderr
};

/**
 * The retry options of every store opened without explicit ones. A process sets them once at its edge (the
 * CLI, from --reconnect-deadline and its logger): the deadline is how long this process waits for its
 * storage, a property of the process like the S3 endpoint in its environment, not of each call site.
 */
export function retryDefaults(): RetryOptions {
  return processDefaults;
}

export function configureRetryDefaults(options: Partial<RetryOptions>): void {
  processDefaults = { ...processDefaults, ...options };
}

/**
 * An object-store operation retried through transient errors (network, 5xx, throttling) until the deadline;
 * permanent StoreErrors fail at once. Past the deadline it throws a transient StoreError that says for how
 * long the store was unreachable, which the CLI exits with as `storageUnavailable` (75, retryable).
 */
export function withRetry<T>(
  operation: () => Promise<T>,
  options: RetryOptions = retryDefaults(),
  what = 'object storage'
): Promise<T> {
  return retryUntilDeadline(operation, {
    ...options,
    what: (error) => (error instanceof StoreError ? `${what} (${error.location})` : what),
    retryable: (error) => error instanceof StoreError && error.code === 'transient',
    giveUp: (error, downForMs) => {
      const last = error as StoreError;
      return new StoreError(
        'transient',
        `${what} unreachable for ${Math.round(downForMs / 1000)} s, past the reconnect deadline of ${Math.round(options.deadlineMs / 1000)} s: ${last.message}`,
        last.location,
        { cause: error }
      );
    }
  });
}
