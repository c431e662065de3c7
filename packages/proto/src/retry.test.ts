import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRetry, retryUntilDeadline } from './retry.js';

describe('retryUntilDeadline', () => {
  it('ends the wait at once when the caller aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      retryUntilDeadline(
        async () => {
          calls += 1;
          if (calls === 2) controller.abort();
          throw new Error('unavailable');
        },
        {
          deadlineMs: Infinity,
          baseDelayMs: 1,
          maxDelayMs: 1,
          what: 'x',
          retryable: () => true,
          signal: controller.signal
        }
      ),
      /unavailable/
    );
    assert.equal(calls, 2);
  });

  it('with no deadline keeps trying', async () => {
    // A clock that only moves when retryUntilDeadline sleeps: hours of retries without a real wait.
    let time = 0;
    let calls = 0;
    await retryUntilDeadline(
      async () => {
        calls += 1;
        if (calls < 200) throw new Error('down');
      },
      {
        deadlineMs: Infinity,
        baseDelayMs: 250,
        maxDelayMs: 15_000,
        now: () => time,
        sleep: async (ms) => {
          time += ms;
        },
        what: 'the coordinator',
        retryable: () => true
      }
    );
    assert.equal(calls, 200);
  });
});

describe('describeRetry', () => {
  it('names what it waits for, for how long it has and will, and why', () => {
    const line = describeRetry({
      what: 'the coordinator at run-coordinator:50051',
      attempt: 7,
      downForMs: 42_300,
      delayMs: 6_100,
      deadlineMs: 300_000,
      error: new Error('14 UNAVAILABLE: No connection established')
    });
    assert.equal(
      line,
      'waiting for the coordinator at run-coordinator:50051: unreachable for 42 s (deadline 300 s), attempt 7, next in 6.1 s: 14 UNAVAILABLE: No connection established'
    );
  });
});
