/**
 * Why an object-store operation failed. Callers branch on `code`, never on message text:
 * - `not-found`: the key does not exist (a normal answer for "is this shard already uploaded?").
 * - `no-such-bucket`, `access-denied`, `invalid`: permanent; retrying cannot help, so they fail at once.
 * - `transient`: network errors, 5xx and throttling, retried with backoff before surfacing.
 */
export type StoreErrorCode = 'not-found' | 'no-such-bucket' | 'access-denied' | 'invalid' | 'transient';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly location: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'StoreError';
  }

  get permanent(): boolean {
    return this.code !== 'transient';
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'not-found';
}
