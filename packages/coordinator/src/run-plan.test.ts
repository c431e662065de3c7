import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planEpoch } from '@ringtrain/dataset';
import { parseRunConfig, type RunConfigInput } from '@ringtrain/protocol';
import { describeBackends, describeRunPlan, renderRunPlan } from './run-plan.js';
import { iterationsOfEpoch } from './resolve-config.js';

const digits = { classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], trainImages: 3840, valImages: 960 };

function config(overrides: Partial<RunConfigInput> = {}) {
  return parseRunConfig(
    {
      runId: 'run-plan',
      dataset: '/data/digits',
      out: '/runs/digits',
      workers: 2,
      epochs: 5,
      batchSize: 32,
      partitions: 2,
      training: { numClasses: 10, imageSize: 64, optimizer: { kind: 'adam', lr: 0.001 } },
      cacheDir: '/tmp/cache',
      ...overrides
    },
    'the test'
  );
}

describe('describeRunPlan', () => {
  it('states the crash course arithmetic from the real numbers: workers × batch = global batch, images ÷ global batch = iterations', () => {
    const plan = describeRunPlan(config(), digits);
    assert.equal(plan.globalBatch, 64);
    assert.equal(plan.iterationsPerEpoch, 60);
    assert.equal(plan.totalIterations, 300);
    assert.equal(plan.optimizer.learningRate, 0.001);
    assert.equal(plan.optimizer.scaledWithGlobalBatch, false);
    assert.equal(plan.output.model, '/runs/digits/model');
    const text = renderRunPlan(plan);
    assert.match(
      text,
      /data: +10 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\); 4,800 images: 3,840 for training, 960 for validation/
    );
    assert.match(text, /batch: +2 workers × 32 images per worker = global batch 64/);
    assert.match(text, /3,840 training images ÷ global batch 64 = 60 iterations per epoch/);
    assert.match(text, /epochs: +5 epochs × 60 iterations = 300 iterations \(optimizer steps\) in total/);
    assert.match(text, /optimizer: +Adam, learning rate 0\.001 \(constant\)/);
    assert.match(text, /not scaled with the global batch/);
    assert.match(text, /weights: +random initialisation \(seed 0\): no pretrained weights/);
    assert.match(text, /frozen: +nothing: every layer trains/);
    assert.match(text, /images: +64×64 pixels, no augmentation/);
    assert.match(text, /checkpoints: \/runs\/digits\/checkpoints every 500 iterations and at each epoch end/);
    assert.match(text, /model: +\/runs\/digits\/model \(and \/runs\/digits\/metrics\.json\) at the end/);
    assert.match(text, /best model by validation accuracy is kept in \/runs\/digits\/model-best; every epoch runs/);
    assert.match(text, /tensorboard: +\/runs\/digits\/tb \(tensorboard --logdir \/runs\/digits\/tb\)/);
  });

  it('names early stopping when a run sets a patience, and no TensorBoard line when it is off', () => {
    const text = renderRunPlan(describeRunPlan(config({ earlyStopping: { patience: 3 }, tensorboard: false }), digits));
    assert.match(text, /early stopping ends the run after 3 epochs without a better one/);
    assert.doesNotMatch(text, /tensorboard/);
  });

  it('names AdamW, label smoothing, clipping, the gradient wire and its stripes when a run sets them', () => {
    const plain = renderRunPlan(describeRunPlan(config(), digits));
    assert.match(plain, /gradients: +averaged by a ring all-reduce in float32 \(exact\)/);
    const text = renderRunPlan(
      describeRunPlan(
        config({
          gradientWire: 'bf16',
          collectiveStripes: 2,
          training: {
            numClasses: 10,
            optimizer: { kind: 'adam', lr: 0.001, weightDecay: 0.01, decoupled: true },
            labelSmoothing: 0.1,
            clipGradNorm: 1
          }
        }),
        digits
      )
    );
    assert.match(
      text,
      /optimizer: +AdamW, learning rate 0\.001 \(constant; weight decay 0\.01; label smoothing 0\.1; gradient norm clipped to 1\)/
    );
    assert.match(text, /gradients: +averaged by a ring all-reduce sent as bf16 \(half the bytes/);
    assert.match(text, /rank\), over 2 links per ring edge, each on its own thread/);
    assert.doesNotMatch(plain, /links per ring edge/);
  });

  it('counts iterations exactly as the epoch planner cuts the epoch (short last iteration, dropped remainder)', () => {
    for (const dropLastBatchBelow of [0, 0.5, 1]) {
      for (const [images, workers, batch] of [
        [480, 2, 16],
        [490, 2, 16],
        [491, 2, 16],
        [7, 3, 4],
        [100, 1, 7],
        [2, 4, 8],
        [900, 2, 32]
      ] as const) {
        const counts = [Math.ceil(images / 2), Math.floor(images / 2)].filter((each) => each > 0);
        const planned = planEpoch({
          shardSampleCounts: counts,
          seed: 3,
          epoch: 0,
          worldSize: workers,
          rank: 0,
          batchSize: batch,
          samplesConsumed: 0,
          remainder: 'drop',
          partitions: workers,
          dropLastBatchBelow
        });
        const ours = iterationsOfEpoch(images, workers, batch, dropLastBatchBelow);
        assert.deepEqual(
          [ours.iterations, ours.dropped],
          [planned.steps, planned.dropped],
          `${images} images, ${workers} × ${batch}, ${dropLastBatchBelow}`
        );
      }
    }
    const text = renderRunPlan(
      describeRunPlan(config({ workers: 2, batchSize: 16, dropLastBatchBelow: 0 }), { ...digits, trainImages: 491 })
    );
    assert.match(
      text,
      /491 training images ÷ global batch 32 = 15\.34 → 16 iterations per epoch \(the last one takes 10 images; the last image of each epoch is dropped \(so every worker gets as many\)\)/
    );
    // The case: 900 images in global batches of 64 leave 4, which the default drops whole.
    const small = renderRunPlan(
      describeRunPlan(config({ workers: 2, batchSize: 32 }), { ...digits, trainImages: 900 })
    );
    assert.match(
      small,
      /900 training images ÷ global batch 64 = 14\.06 → 14 iterations per epoch \(the last 4 images of each epoch are dropped \(a last batch that small would give batch norm a handful of images per worker; --drop-last-batch-below 0 keeps it\)\)/
    );
    assert.match(small, /each epoch sees every training image once but the 4 it leaves out, other ones each epoch/);
  });

  it('names pretrained weights, the frozen backbone, SGD with its schedule and warmup, and a --max-steps cut', () => {
    const plan = describeRunPlan(
      config({
        pretrained: 's3://weights/resnet18.safetensors',
        maxSteps: 100,
        augment: true,
        training: {
          numClasses: 10,
          freezeBackbone: true,
          unfreezeAfterEpochs: 2,
          warmupSteps: 20,
          optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
          schedule: { kind: 'cosine', totalSteps: 300 }
        }
      }),
      digits
    );
    assert.equal(plan.imageSize, 224, 'the model default');
    assert.equal(plan.totalIterations, 100);
    const text = renderRunPlan(plan);
    assert.match(
      text,
      /SGD with momentum 0\.9, learning rate 0\.05 \(cosine decay from 0\.05 to 0 over 300 iterations; linear warmup over the first 20 iterations\)/
    );
    assert.match(
      text,
      /pretrained from s3:\/\/weights\/resnet18\.safetensors; the final layer is replaced for 10 classes/
    );
    assert.match(text, /frozen: +the backbone for the first 2 epochs/);
    assert.match(text, /stops after 100 iterations \(--max-steps\)/);
    assert.match(text, /random-resized-crop and horizontal flip/);
    for (const [freezeBatchNorm, mode] of [
      [false, /batch norm stays in train mode, as PyTorch's model\.train\(\): running statistics adapt/],
      [true, /batch norm stays in inference mode, running statistics fixed/]
    ] as const) {
      const frozen = renderRunPlan(
        describeRunPlan(
          config({
            pretrained: 's3://w/r.safetensors',
            training: { numClasses: 10, freezeBackbone: true, freezeBatchNorm }
          }),
          digits
        )
      );
      assert.match(frozen, mode);
    }
  });

  it('takes the model defaults when the configuration names no optimizer (Adam at 1e-3)', () => {
    const plan = describeRunPlan(config({ training: { numClasses: 10 } }), digits);
    assert.deepEqual([plan.optimizer.kind, plan.optimizer.learningRate], ['adam', 0.001]);
  });

  it('says how the backend is chosen until the workers report it, then names it per rank', () => {
    assert.match(describeBackends(describeRunPlan(config(), digits)), /chosen by each worker/);
    assert.equal(describeBackends(describeRunPlan(config(), digits, ['wasm', 'wasm'])), 'wasm on both workers');
    assert.equal(
      describeBackends(describeRunPlan(config(), digits, ['tensorflow', 'wasm'])),
      'rank 0: tensorflow, rank 1: wasm'
    );
  });
});
