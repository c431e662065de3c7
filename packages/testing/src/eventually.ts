import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns a value other than undefined. On timeout the error names what was awaited,
 * the last error `check` threw, and what `describe` says of the state, so a failed wait explains itself.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(options.intervalMs ?? 200);
  }
  const state = options.describe === undefined ? '' : `; ${await options.describe().catch((error: unknown) => `(describing the state failed: ${String(error)})`)}`;
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}${state}`);
}
