import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT_CODES, exitCodeClass } from './exit-codes.js';

describe('the exit-code contract', () => {
  it('reads the program failures that a restart cannot fix as permanent', () => {
    for (const code of [
      EXIT_CODES.unexpected,
      EXIT_CODES.usage,
      EXIT_CODES.badData,
      EXIT_CODES.badWeights,
      EXIT_CODES.noGpu,
      EXIT_CODES.badConfig
    ]) {
      assert.equal(exitCodeClass(code).retryable, false, `exit ${code}`);
    }
    assert.equal(exitCodeClass(65).class, 'bad-data');
    assert.equal(exitCodeClass(66).class, 'bad-weights');
    assert.equal(exitCodeClass(78).class, 'bad-config');
  });

  it("reads the coordinator's verdict that the run failed (its restart budget used up) as permanent, not as a bug", () => {
    assert.deepEqual(
      [exitCodeClass(EXIT_CODES.runFailed).class, exitCodeClass(EXIT_CODES.runFailed).retryable],
      ['run-failed', false]
    );
    assert.notEqual(EXIT_CODES.runFailed, EXIT_CODES.unexpected);
  });

  it('reads outages, lost peers, timeouts and a known out-of-memory as retryable', () => {
    assert.deepEqual(
      [
        EXIT_CODES.storageUnavailable,
        EXIT_CODES.networkUnavailable,
        EXIT_CODES.peerLost,
        EXIT_CODES.timeout,
        EXIT_CODES.outOfMemory
      ].map((code) => [code, exitCodeClass(code).class, exitCodeClass(code).retryable]),
      [
        [75, 'storage-unavailable', true],
        [80, 'network-unavailable', true],
        [81, 'peer-lost', true],
        [82, 'timeout', true],
        [83, 'out-of-memory', true]
      ]
    );
  });

  it('reads 128+n as killed by signal n, retryable, and any other code as permanent', () => {
    assert.deepEqual(exitCodeClass(137), {
      code: 137,
      class: 'signal',
      retryable: true,
      signal: 9,
      description: 'killed by signal 9'
    });
    assert.equal(exitCodeClass(143).signal, 15);
    for (const code of [3, 64, 127, 126, 300, -1]) assert.equal(exitCodeClass(code).retryable, false, `exit ${code}`);
  });

  it('gives every named code a distinct number in 1–127 outside the signal range', () => {
    const codes = Object.entries(EXIT_CODES)
      .filter(([name]) => name !== 'ok')
      .map(([, code]) => code);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.ok(code >= 1 && code <= 125, `exit ${code}`);
  });
});
