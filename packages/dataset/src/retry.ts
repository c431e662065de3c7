import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from './store-error.js';

export type RetryOptions = {
  /** Total attempts including the first; 1 disables retries. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
};

export const defaultRetryOptions: RetryOptions = { attempts: 6, baseDelayMs: 100, maxDelayMs: 5_000 };

/**
 * Runs `operation` until it succeeds, throws a permanent StoreError, or runs out of attempts. Delays use "full
 * jitter" (a uniform draw in [0, min(max, base·2^n)]) so that many workers retrying after the same MinIO
 * restart do not hammer it in lockstep.
 */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = defaultRetryOptions): Promise<T> {
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      const retryable = error instanceof StoreError && error.code === 'transient';
      if (!retryable || attempt >= options.attempts) throw error;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * ceiling));
    }
  }
}
