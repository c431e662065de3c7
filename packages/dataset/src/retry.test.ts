import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Patience, RetryEvent } from '@ringtrain/proto';
import { withRetry } from './retry.js';
import { StoreError } from './store-error.js';

/** A clock that only moves when the code under test sleeps: no real waits, exact times. */
function fakeClock(random = () => 0.5) {
  let time = 1_000_000;
  const sleeps: number[] = [];
  const events: RetryEvent[] = [];
  const patience = (deadlineMs: number): Patience => ({
    deadlineMs,
    baseDelayMs: 250,
    maxDelayMs: 15_000,
    random,
    now: () => time,
    sleep: async (ms) => {
      sleeps.push(ms);
      time += ms;
    },
    onRetry: (event) => events.push(event)
  });
  return { patience, sleeps, events, advance: (ms: number) => (time += ms), now: () => time };
}

const transient = (message = 'connect ECONNREFUSED 10.0.0.7:9000') =>
  new StoreError('transient', message, 's3://datasets/flowers/manifest.json');

describe('withRetry: object storage retried with backoff up to a deadline', () => {
  it('retries transient errors until the operation succeeds, logging each retry', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw transient();
        return 'ok';
      },
      clock.patience(300_000),
      'object storage at http://minio:9000'
    );
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
    assert.equal(clock.events.length, 2, 'one line per retry');
    assert.equal(clock.events[0]!.what, 'object storage at http://minio:9000 (s3://datasets/flowers/manifest.json)');
  });

  it('fails at once on permanent errors', async () => {
    const clock = fakeClock();
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls += 1;
        throw new StoreError('access-denied', 'denied', 'loc');
      }, clock.patience(300_000)),
      /denied/
    );
    assert.equal(calls, 1);
    assert.deepEqual(clock.sleeps, []);
  });

  it('doubles the delay from the base up to the cap, each drawn from the upper half of its ceiling', async () => {
    const lows = fakeClock(() => 0);
    await assert.rejects(
      withRetry(async () => {
        throw transient();
      }, lows.patience(120_000))
    );
    assert.deepEqual(lows.sleeps.slice(0, 9), [125, 250, 500, 1_000, 2_000, 4_000, 7_500, 7_500, 7_500]);
    const highs = fakeClock(() => 1);
    await assert.rejects(
      withRetry(async () => {
        throw transient();
      }, highs.patience(120_000))
    );
    assert.deepEqual(highs.sleeps.slice(0, 9), [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  });

  it('gives up at the deadline, counted from the first failure, with a transient error that says for how long', async () => {
    const clock = fakeClock();
    let calls = 0;
    const started = clock.now();
    await assert.rejects(
      withRetry(
        async () => {
          calls += 1;
          clock.advance(1_000); // each attempt takes a second to fail (a connect timeout)
          throw transient(`attempt ${calls}`);
        },
        clock.patience(300_000),
        'object storage at http://minio:9000'
      ),
      (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, 'transient', 'still transient: the CLI exits 75, retryable');
        assert.match(
          error.message,
          /^object storage at http:\/\/minio:9000 unreachable for 30[01] s, past the reconnect deadline of 300 s: attempt \d+$/
        );
        assert.ok(error.cause instanceof StoreError);
        return true;
      }
    );
    const elapsed = clock.now() - started;
    assert.ok(elapsed >= 301_000 && elapsed <= 302_000, `gave up ${elapsed} ms after the first attempt began`);
    // 250 ms doubling to 15 s: ~11 retries to reach the cap, then one every 11.25 s on average.
    assert.ok(calls >= 20 && calls <= 40, `${calls} attempts`);
    assert.equal(clock.events.length, calls - 1, 'one log line per retry, none for the final failure');
    const last = clock.events.at(-1)!;
    assert.ok(
      last.downForMs < 300_000 && last.downForMs + last.delayMs <= 300_000,
      'the last sleep ends at the deadline, not past it'
    );
  });

  it('starts its deadline afresh each time: a store that comes back resets the patience', async () => {
    const clock = fakeClock();
    let calls = 0;
    const flaky = () =>
      withRetry(async () => {
        calls += 1;
        if (calls % 10 !== 0) throw transient();
        return calls;
      }, clock.patience(60_000));
    assert.equal(await flaky(), 10);
    assert.equal(await flaky(), 20);
  });
});
