import { setTimeout as sleepFor } from 'node:timers/promises';

/** How patiently to retry a dependency that is down: exponential backoff with jitter, up to a deadline. */
export type Patience = {
  /** Give up this long after the first failure (Infinity: never). */
  deadlineMs: number;
  /** The first delay's ceiling; each retry doubles it up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injected for tests; default Math.random. */
  random?: () => number;
  /** Injected for tests; default Date.now. */
  now?: () => number;
  /** Injected for tests; default a timer. Resolves early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each wait: the caller's one log line per retry. */
  onRetry?: (event: RetryEvent) => void;
};

/** One retry about to happen: what is waited for, how long it has been down, and how long is left. */
export interface RetryEvent {
  /** What is unreachable, in words: `object storage at http://minio:9000 (s3://bucket/key)`. */
  what: string;
  /** Attempts made so far (1 after the first failure). */
  attempt: number;
  /** Since the first failure. */
  downForMs: number;
  /** Before the next attempt. */
  delayMs: number;
  deadlineMs: number;
  error: unknown;
}

/** A line on stderr: a library that retries in silence makes an outage look like a hang. */
export function logRetryToStderr(event: RetryEvent): void {
  process.stderr.write(`ringtrain: ${describeRetry(event)}\n`);
}

/** The retry log line: what it waits for, for how long it has, how long it will, and why. */
export function describeRetry(event: RetryEvent): string {
  const seconds = (ms: number) => (ms === Infinity ? 'no deadline' : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`);
  const reason = event.error instanceof Error ? event.error.message : String(event.error);
  return `waiting for ${event.what}: unreachable for ${seconds(event.downForMs)} (deadline ${seconds(event.deadlineMs)}), attempt ${event.attempt}, next in ${seconds(event.delayMs)}: ${reason}`;
}

/**
 * Runs `operation` until it succeeds, throws an error `retryable` rejects, or `deadlineMs` has passed since
 * its first failure; then rethrows the last error, through `giveUp` when given. Delays grow as base·2^n up to
 * maxDelayMs, drawn uniformly from the upper half ("equal jitter": many workers retrying after the same MinIO
 * restart do not hammer it in lockstep, and no retry comes at once), and never sleep past the deadline, so the
 * last attempt is made at it.
 */
export async function retryUntilDeadline<T>(
  operation: () => Promise<T>,
  options: Patience & {
    what: string | ((error: unknown) => string);
    retryable: (error: unknown) => boolean;
    giveUp?: (error: unknown, downForMs: number) => unknown;
    signal?: AbortSignal;
  }
): Promise<T> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!options.retryable(error) || options.signal?.aborted) throw error;
      const failedAt = now();
      firstFailure ??= failedAt;
      const downForMs = failedAt - firstFailure;
      const leftMs = options.deadlineMs - downForMs;
      if (leftMs <= 0) throw options.giveUp ? options.giveUp(error, downForMs) : error;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.min(leftMs, Math.round(ceiling / 2 + (random() * ceiling) / 2));
      const what = typeof options.what === 'function' ? options.what(error) : options.what;
      options.onRetry?.({ what, attempt, downForMs, delayMs, deadlineMs: options.deadlineMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await sleepFor(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}
