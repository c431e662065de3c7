import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confusionRows, perClassAccuracy } from './class-accuracy.js';

describe('per-class accuracy', () => {
  it('is the diagonal over the row total of the true class, null for a class with no validation image', () => {
    const confusion = confusionRows([8, 2, 0, 1, 3, 0, 0, 0, 0], 3);
    assert.deepEqual(confusion, [
      [8, 2, 0],
      [1, 3, 0],
      [0, 0, 0]
    ]);
    assert.deepEqual(perClassAccuracy(confusion, ['cat', 'dog', 'fox']), [
      { className: 'cat', correct: 8, total: 10, accuracy: 0.8 },
      { className: 'dog', correct: 3, total: 4, accuracy: 0.75 },
      { className: 'fox', correct: 0, total: 0, accuracy: null }
    ]);
    assert.throws(() => confusionRows([1, 2, 3], 2), /2 classes has 4 cells, got 3/);
  });
});
