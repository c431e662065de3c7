import { setTimeout as sleep } from 'node:timers/promises';

/** Thrown by an `eventually` check that sees the awaited state can no longer come: it stops the wait at once. */
export class GaveUp extends Error {}

/** Polls until `check` returns a value; a timeout says what was awaited and what was seen last. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, describe?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GaveUp) throw new Error(`gave up waiting for ${what}: ${error.message}${describe ? `\n${await describe()}` : ''}`);
      lastError = error;
    }
    await sleep(500);
  }
  const detail = describe ? `\n${await describe()}` : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}${detail}`);
}
