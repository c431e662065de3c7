import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, checkHmac, RunStateKey, runStateKeyFromEnv, withHmac } from './run-state-key.js';

const token = 'a-run-token-of-32-random-characters';

describe('RunStateKey', () => {
  it('signs a document whatever its key order; another token, or any changed field, does not verify', () => {
    const key = RunStateKey.fromToken(token);
    const signed = withHmac({ runId: 'r', globalStep: 7, cursor: { epoch: 1, samples: 64 } }, key);
    assert.equal(checkHmac(JSON.parse(JSON.stringify(signed)), key), 'valid');
    assert.equal(
      checkHmac({ cursor: { samples: 64, epoch: 1 }, globalStep: 7, hmac: signed.hmac, runId: 'r' }, key),
      'valid'
    );
    assert.equal(checkHmac({ ...signed, globalStep: 8 }, key), 'invalid');
    assert.equal(checkHmac({ ...signed, extra: 1 }, key), 'invalid');
    assert.equal(checkHmac(signed, RunStateKey.fromToken(`${token}x`)), 'invalid');
    assert.equal(checkHmac({ runId: 'r' }, key), 'missing');
    assert.equal(checkHmac({ ...signed, hmac: 'zz' }, key), 'invalid');
  });

  it('derives the same key from the same token (a restarted pod verifies what the last one signed)', () => {
    assert.equal(RunStateKey.fromToken(token).sign({ a: 1 }), RunStateKey.fromToken(token).sign({ a: 1 }));
  });

  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } }),
      '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}'
    );
  });

  it('is used only when the environment says the token is stable', () => {
    assert.equal(runStateKeyFromEnv({}, token), undefined);
    assert.equal(runStateKeyFromEnv({ RINGTRAIN_HMAC_FROM_TOKEN: 'false' }, token), undefined);
    assert.ok(runStateKeyFromEnv({ RINGTRAIN_HMAC_FROM_TOKEN: 'true' }, token) instanceof RunStateKey);
    assert.throws(() => runStateKeyFromEnv({ RINGTRAIN_HMAC_FROM_TOKEN: 'yes' }, token), /true or false/);
  });
});
