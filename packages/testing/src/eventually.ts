import { setTimeout as sleep } from 'node:timers/promises';

/** Thrown by a check that sees the awaited state can no longer come (the run Failed): the wait stops at once. */
export class GaveUp extends Error {
  override readonly name = 'GaveUp';
}

/**
 * Polls `check` until it returns a value other than undefined. On timeout the error names what was awaited,
 * the last error `check` threw, and what `describe` says of the state, so a failed wait explains itself.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {}
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GaveUp)
        throw new Error(`gave up waiting for ${what}: ${error.message}${await describeState(options.describe)}`);
      last = error;
    }
    await sleep(options.intervalMs ?? 200);
  }
  throw new Error(
    `timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}${await describeState(options.describe)}`
  );
}

async function describeState(describe: (() => Promise<string>) | undefined): Promise<string> {
  if (describe === undefined) return '';
  return `; ${await describe().catch((error: unknown) => `(describing the state failed: ${String(error)})`)}`;
}
