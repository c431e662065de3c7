import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CollectiveArgumentError,
  CollectiveError,
  CollectiveTimeoutError,
  GroupClosedError,
  PeerLostError,
  PeerRefusedError,
  ProtocolError,
  reviveCollectiveError,
  serializeCollectiveError
} from './errors.js';

/** What a thread boundary does to a value: structured clone, which keeps no class. */
function acrossThreads(error: unknown): Error {
  return reviveCollectiveError(structuredClone(serializeCollectiveError(error)));
}

test('every CollectiveError crosses a thread boundary as the same class, code, operation and peer', () => {
  for (const Class of [
    PeerLostError,
    CollectiveTimeoutError,
    ProtocolError,
    PeerRefusedError,
    GroupClosedError,
    CollectiveArgumentError
  ]) {
    const original = new Class(`${Class.name} from rank 2`, 'allReduce#7', 2);
    const revived = acrossThreads(original);
    assert.ok(revived instanceof Class, `${Class.name} came back as ${revived.name}`);
    assert.ok(revived instanceof CollectiveError);
    assert.equal(revived.name, Class.name);
    assert.equal(revived.code, original.code);
    assert.equal(revived.message, original.message);
    assert.equal(revived.operation, 'allReduce#7');
    assert.equal(revived.peerRank, 2);
  }
});

test('a cause travels with its error, and an error without a peer names none', () => {
  const cause = new CollectiveTimeoutError('no data from rank 1', 'allReduce#3', 1);
  const revived = acrossThreads(new GroupClosedError('the process group already failed', 'enqueue', 1, { cause }));
  assert.ok(revived instanceof GroupClosedError);
  assert.ok(revived.cause instanceof CollectiveTimeoutError);
  assert.equal(revived.cause.peerRank, 1);
  const closed = acrossThreads(new GroupClosedError('the process group is closed', 'close'));
  assert.ok(closed instanceof GroupClosedError);
  assert.equal(closed.peerRank, undefined);
});

test('anything else comes back as a plain Error with its name and message', () => {
  const failed = new TypeError('not a function');
  const revived = acrossThreads(failed);
  assert.ok(!(revived instanceof CollectiveError));
  assert.equal(revived.name, 'TypeError');
  assert.equal(revived.message, 'not a function');
  assert.equal(acrossThreads('a string').message, 'a string');
});
