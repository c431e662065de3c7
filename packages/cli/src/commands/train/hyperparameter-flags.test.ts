import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HyperparametersSchema } from '@ringtrain/proto';
import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { addHyperparameterOptions, HYPERPARAMETER_FLAGS, parseHyperparameterFlags } from './hyperparameter-flags.js';

function parseArgs(args: string[]): Record<string, unknown> {
  const command = addHyperparameterOptions(new Command('train').exitOverride());
  command.parse(args, { from: 'user' });
  return command.opts();
}

describe('ringtrain train hyperparameter flags', () => {
  it('exist for every field of spec.hyperparameters, with its description and default', () => {
    assert.deepEqual(
      HYPERPARAMETER_FLAGS.map((flag) => flag.key).sort(),
      Object.keys(HyperparametersSchema.shape).sort()
    );
    const lr = HYPERPARAMETER_FLAGS.find((flag) => flag.key === 'learningRate')!;
    assert.equal(lr.flag, 'lr');
    assert.match(lr.description, /default: 0\.001/);
    const wire = HYPERPARAMETER_FLAGS.find((flag) => flag.key === 'gradientWire')!;
    assert.equal(wire.placeholder, '<f32|bf16|f16>');
    assert.match(wire.description, /\(default: f32\)$/);
    assert.equal(HYPERPARAMETER_FLAGS.find((flag) => flag.key === 'epochs')!.placeholder, '<n>');
  });

  it("default to the course's recipe, which the demo shrinks and flags override", () => {
    assert.equal(parseHyperparameterFlags(parseArgs([])).optimizer, 'adam');
    const demo = parseHyperparameterFlags(parseArgs(['--lr', '0.01', '--augment', '--gradient-wire', 'bf16']), {
      epochs: 4,
      batchSizePerWorker: 16
    });
    assert.equal(demo.learningRate, 0.01);
    assert.equal(demo.epochs, 4);
    assert.equal(demo.batchSizePerWorker, 16);
    assert.equal(demo.augment, true);
    assert.equal(demo.gradientWire, 'bf16');
    assert.equal(
      parseHyperparameterFlags(parseArgs(['--batch-size', '64']), { batchSizePerWorker: 16 }).batchSizePerWorker,
      64
    );
  });

  it('name the flag and what it accepts when a value is wrong', () => {
    assert.throws(
      () => parseHyperparameterFlags(parseArgs(['--batch-size', 'many', '--optimizer', 'lion'])),
      (error: unknown) =>
        error instanceof UsageError && /--batch-size:/.test(error.message) && /--optimizer:.*adam/.test(error.message)
    );
  });
});
