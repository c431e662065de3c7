import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetryEvent } from '@ringtrain/proto';
import { CoordinatorConnection, CoordinatorUnavailableError } from './client.js';

const TOKEN = 'a-test-token-of-enough-length';

describe('CoordinatorConnection.register waits patiently for an unreachable coordinator', () => {
  it('retries with growing delays and a log line each, then gives up at the deadline with CoordinatorUnavailableError', async () => {
    // Nothing listens on port 1: each call fails at once with UNAVAILABLE. The clock moves only when register sleeps.
    let time = 0;
    const sleeps: number[] = [];
    const events: RetryEvent[] = [];
    const connection = new CoordinatorConnection('127.0.0.1:1', TOKEN, {
      deadlineMs: 300_000,
      now: () => time,
      random: () => 0.5,
      onRetry: (event) => events.push(event),
      sleep: async (ms) => {
        sleeps.push(ms);
        time += ms;
      }
    });
    try {
      await assert.rejects(connection.register('worker-0', 'h:0'), (error: unknown) => {
        assert.ok(error instanceof CoordinatorUnavailableError);
        assert.match(
          error.message,
          /^the coordinator at 127\.0\.0\.1:1 was unreachable for 300 s, past the reconnect deadline of 300 s: 14 UNAVAILABLE/
        );
        return true;
      });
    } finally {
      connection.close();
    }
    assert.deepEqual(
      sleeps.slice(0, 8),
      [188, 375, 750, 1_500, 3_000, 6_000, 11_250, 11_250],
      'exponential from 250 ms, capped at 15 s, jittered'
    );
    assert.equal(
      sleeps.reduce((a, b) => a + b, 0),
      300_000,
      'the last sleep ends at the deadline'
    );
    assert.equal(events.length, sleeps.length, 'one log line per retry');
    assert.equal(events[3]!.what, 'the coordinator at 127.0.0.1:1');
    assert.equal(events[3]!.downForMs, 188 + 375 + 750);
  });
});
