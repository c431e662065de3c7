import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionIs, setCondition } from './conditions.js';

describe('setCondition', () => {
  it('adds a condition, and keeps lastTransitionTime while its status holds', () => {
    const first = setCondition(
      undefined,
      { type: 'Running', status: 'True', reason: 'AllPodsRunning', message: 'a' },
      't1'
    );
    const same = setCondition(first, { type: 'Running', status: 'True', reason: 'AllPodsRunning', message: 'b' }, 't2');
    assert.equal(same[0]?.lastTransitionTime, 't1');
    assert.equal(same[0]?.message, 'b');
    const flipped = setCondition(
      same,
      { type: 'Running', status: 'False', reason: 'PodsNotRunning', message: 'c' },
      't3'
    );
    assert.equal(flipped.length, 1);
    assert.equal(flipped[0]?.lastTransitionTime, 't3');
    assert.equal(conditionIs(flipped, 'Running'), false);
    assert.equal(conditionIs(first, 'Running'), true);
  });
});
