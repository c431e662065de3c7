import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withRetry } from './retry.js';
import { StoreError } from './store-error.js';

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

describe('withRetry', () => {
  it('retries transient errors until the operation succeeds', async () => {
    let calls = 0;
    const result = await withRetry(async () => {
      calls += 1;
      if (calls < 3) throw new StoreError('transient', 'flaky', 'loc');
      return 'ok';
    }, fast);
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
  });

  it('fails at once on permanent errors', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls += 1;
        throw new StoreError('access-denied', 'denied', 'loc');
      }, fast),
      /denied/,
    );
    assert.equal(calls, 1);
  });

  it('gives up after the configured attempts with the last error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls += 1;
        throw new StoreError('transient', `attempt ${calls}`, 'loc');
      }, fast),
      /attempt 4/,
    );
    assert.equal(calls, 4);
  });
});
