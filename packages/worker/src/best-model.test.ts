import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BEST_MODEL_EXTRA_KEY,
  bestModelStateFrom,
  earlyStopReason,
  INITIAL_BEST_MODEL_STATE,
  observeValidation,
  type BestModelState
} from './best-model.js';

/** Feeds complete epochs' accuracies; returns the epoch (0-based) after which the run stops, and the books. */
function run(
  accuracies: number[],
  patience: number | undefined
): { stoppedAfter?: number; state: BestModelState; improvedAt: number[] } {
  let state = INITIAL_BEST_MODEL_STATE;
  const improvedAt: number[] = [];
  for (const [epoch, valAccuracy] of accuracies.entries()) {
    const observed = observeValidation(state, {
      epoch,
      globalStep: (epoch + 1) * 10,
      valAccuracy,
      valLoss: 1 - valAccuracy,
      epochComplete: true
    });
    state = observed.state;
    if (observed.improved) improvedAt.push(epoch);
    if (earlyStopReason(state, patience) !== undefined) return { stoppedAfter: epoch, state, improvedAt };
  }
  return { state, improvedAt };
}

describe('best model and early stopping', () => {
  it('keeps the first model of the highest validation accuracy: a tie is no improvement', () => {
    const { state, improvedAt } = run([0.5, 0.7, 0.6, 0.7, 0.65], undefined);
    assert.deepEqual(improvedAt, [0, 1]);
    assert.deepEqual(state.best, { epoch: 1, globalStep: 20, valAccuracy: 0.7, valLoss: 1 - 0.7 });
    assert.equal(state.epochsWithoutImprovement, 3);
  });

  it('stops once `patience` epochs in a row did not improve, and not before', () => {
    assert.equal(run([0.5, 0.6, 0.6, 0.55], 2).stoppedAfter, 3);
    assert.equal(run([0.5, 0.6, 0.6, 0.7, 0.65, 0.7], 2).stoppedAfter, 5, 'an improvement resets the count');
    assert.equal(run([0.5, 0.4], 1).stoppedAfter, 1);
    assert.equal(run([0.1, 0.2, 0.3, 0.4], 1).stoppedAfter, undefined, 'a run that keeps improving runs every epoch');
  });

  it('without a patience, never stops early', () => {
    assert.equal(run([0.9, 0.1, 0.1, 0.1, 0.1, 0.1], undefined).stoppedAfter, undefined);
  });

  it('a partial epoch can give the best model but does not count against the patience', () => {
    let { state } = observeValidation(INITIAL_BEST_MODEL_STATE, {
      epoch: 0,
      globalStep: 10,
      valAccuracy: 0.8,
      valLoss: 0.3,
      epochComplete: true
    });
    ({ state } = observeValidation(state, {
      epoch: 1,
      globalStep: 15,
      valAccuracy: 0.5,
      valLoss: 0.9,
      epochComplete: false
    }));
    assert.equal(state.epochsWithoutImprovement, 0);
    const better = observeValidation(state, {
      epoch: 1,
      globalStep: 16,
      valAccuracy: 0.9,
      valLoss: 0.2,
      epochComplete: false
    });
    assert.equal(better.improved, true);
    assert.equal(better.state.best?.globalStep, 16);
  });

  it('says why in one line, with the best epoch counted from 1 as the CLI shows epochs', () => {
    const { state } = run([0.5, 0.75, 0.7, 0.7], 2);
    assert.equal(
      earlyStopReason(state, 2),
      'early stopping: validation accuracy did not improve for 2 epochs (patience 2); the best, 75.00% after epoch 2, is in model-best/'
    );
  });

  it('round-trips through a checkpoint, and a checkpoint without books starts them afresh', () => {
    const { state } = run([0.5, 0.75, 0.7], undefined);
    assert.deepEqual(bestModelStateFrom({ cursor: '{}', [BEST_MODEL_EXTRA_KEY]: JSON.stringify(state) }), state);
    assert.deepEqual(bestModelStateFrom({ cursor: '{}' }), INITIAL_BEST_MODEL_STATE);
    assert.throws(
      () => bestModelStateFrom({ [BEST_MODEL_EXTRA_KEY]: JSON.stringify({ epochsWithoutImprovement: -1 }) }),
      /best-model books are not valid/
    );
  });
});
