import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, type CoordinatorProto, type RegisterResponse, type RetryEvent } from '@ringtrain/proto';
import { CoordinatorConnection, CoordinatorUnavailableError, type RegisterOutcome } from './client.js';

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

describe('CoordinatorConnection.register reads how an ended run ended', () => {
  /** Registers once with a coordinator that answers `answer`, and returns what register made of it. */
  async function registerWith(answer: RegisterResponse): Promise<RegisterOutcome> {
    const proto = grpc.loadPackageDefinition(loadProto('coordinator.proto')) as unknown as CoordinatorProto;
    const server = new grpc.Server();
    server.addService(proto.ringtrain.coordinator.v1.Coordinator.service, {
      Register: (_call: unknown, callback: grpc.sendUnaryData<RegisterResponse>) => callback(null, answer)
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound)
      )
    );
    const connection = new CoordinatorConnection(`127.0.0.1:${port}`, TOKEN);
    try {
      return await connection.register('worker-0', '127.0.0.1:1');
    } finally {
      connection.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    }
  }

  it('takes the outcome the coordinator states, whatever its reason says', async () => {
    const stopped = 'stopped on request (generation 2 ended: rank 1 failed); resume with --resume';
    assert.deepEqual(
      await registerWith({ runEnded: true, runEndedReason: stopped, runOutcome: 'RUN_OUTCOME_STOPPED' }),
      {
        ended: true,
        reason: stopped,
        outcome: 'stopped'
      }
    );
    const failed = await registerWith({
      runEnded: true,
      runEndedReason: 'budget used up',
      runOutcome: 'RUN_OUTCOME_FAILED'
    });
    assert.equal(failed.ended && failed.outcome, 'failed');
    const succeeded = await registerWith({
      runEnded: true,
      runEndedReason: 'done',
      runOutcome: 'RUN_OUTCOME_SUCCEEDED'
    });
    assert.equal(succeeded.ended && succeeded.outcome, 'succeeded');
  });

  it('never reads an outcome from the wording of a reason: unstated is unknown, whatever it says', async () => {
    const gaveUp = await registerWith({ runEnded: true, runEndedReason: 'gave up after 4 failed generations' });
    assert.equal(gaveUp.ended && gaveUp.outcome, 'unknown');
  });
});
