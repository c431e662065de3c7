import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { SeededRandom } from './random.js';
import { Trainer } from './trainer.js';
import type { GradientBucket, ReadyGradientBucket, TrainingBatch } from './trainer.js';
import type { TrainingConfigInput } from './training-config.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

const SIZE = 32;
const base: TrainingConfigInput = { numClasses: 3, imageSize: SIZE, seed: 5 };

function batch(seed: number, count: number): TrainingBatch {
  const random = SeededRandom.fromSeed(seed);
  return {
    images: Float32Array.from({ length: count * SIZE * SIZE * 3 }, () => random.normal()),
    labels: Int32Array.from({ length: count }, () => Math.floor(random.uniform() * 3)),
    count
  };
}

/** The largest element-wise difference, for a failure message that says how far apart two gradients are. */
function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Every tensor of the model except the parameters: running statistics and num_batches_tracked. */
function buffers(trainer: Trainer): Map<string, Float32Array> {
  const trained = new Set(trainer.model.trainable(false).map((spec) => spec.name));
  return new Map(
    trainer.model.spec
      .filter((spec) => !trained.has(spec.name))
      .map((spec) => [spec.name, trainer.model.read(spec.name)])
  );
}

// The staged backward plays the same kernels back in the same order, and sums micro-batches bucket by bucket in
// the same order as computeGradients sums the whole vector; on tensorflow and on wasm the gradients come out as
// the same bits (largest difference seen: 0), so the comparison is exact.
for (const [label, config, count] of [
  ['a whole batch of 4', base, 4],
  ['micro-batches of 2 in a batch of 5', { ...base, microBatchSize: 2 }, 5],
  ['a frozen backbone', { ...base, freezeBackbone: true }, 4]
] as Array<[string, TrainingConfigInput, number]>) {
  test(`staged gradients are the unstaged ones, bit for bit: ${label}`, async () => {
    const [unstaged, staged] = [Trainer.create(config), Trainer.create(config)];
    const data = batch(1, count);
    const expected = unstaged.computeGradients(data);
    const handed: ReadyGradientBucket[] = [];
    const actual = await staged.computeGradientsStaged(data, (bucket) => void handed.push(bucket));
    assert.equal(actual.loss, expected.loss);
    assert.equal(actual.correct, expected.correct);
    assert.equal(actual.count, count);
    assert.equal(actual.gradients.length, expected.gradients.length);
    assert.ok(
      actual.gradients.every((value, i) => value === expected.gradients[i]),
      `largest difference ${maxDifference(actual.gradients, expected.gradients)}`
    );
    // Handed over once per bucket (after the last micro-batch), as views of the result.
    assert.deepEqual(
      handed.map(({ index, offset, length, stages }) => ({ index, offset, length, stages })),
      staged.gradientBuckets()
    );
    for (const bucket of handed) assert.equal(bucket.values.buffer, actual.gradients.buffer);
    unstaged.dispose();
    staged.dispose();
  });
}

test('the bucket order is a function of the model and the freeze settings: the head first, all values once', () => {
  const trainers = [Trainer.create(base), Trainer.create({ ...base, seed: 99 })];
  const [first, second] = trainers.map((trainer) => trainer.gradientBuckets()) as [GradientBucket[], GradientBucket[]];
  assert.deepEqual(first, second);
  assert.deepEqual(
    first.map((bucket) => bucket.stages.join('+')),
    ['head', 'layer4', 'layer3', 'layer2', 'layer1+stem']
  );
  // Reverse layer order, contiguous, no gap and no overlap: from the end of the layout down to 0.
  const total = trainers[0]!.gradientLayout().reduce((sum, entry) => sum + entry.length, 0);
  let end = total;
  first.forEach((bucket, i) => {
    assert.equal(bucket.index, i);
    assert.equal(bucket.offset + bucket.length, end, `bucket ${i} ends where the one before it starts`);
    end = bucket.offset;
  });
  assert.equal(end, 0);
  assert.equal(first[0]!.length, 512 * 3 + 3, 'the first bucket is the head, small');
  for (const trainer of trainers) trainer.dispose();
  const frozen = Trainer.create({ ...base, freezeBackbone: true, unfreezeAfterEpochs: 1 });
  assert.deepEqual(frozen.gradientBuckets(), [{ index: 0, offset: 0, length: 512 * 3 + 3, stages: ['head'] }]);
  frozen.setEpoch(1);
  assert.equal(frozen.gradientBuckets().length, 5);
  frozen.dispose();
});

test('one staged step leaves the running statistics and the weights exactly as one unstaged step does', async () => {
  const [unstaged, staged] = [Trainer.create(base), Trainer.create(base)];
  const before = buffers(staged);
  const data = batch(2, 4);
  unstaged.applyGradients(unstaged.computeGradients(data).gradients);
  staged.applyGradients((await staged.computeGradientsStaged(data, () => {})).gradients);
  const [expected, actual] = [buffers(unstaged), buffers(staged)];
  assert.notDeepEqual(actual.get('layer4.1.bn2.running_var'), before.get('layer4.1.bn2.running_var'));
  assert.deepEqual(actual.get('bn1.num_batches_tracked'), Float32Array.of(1), 'updated once per step, not per stage');
  assert.deepEqual(actual, expected);
  for (const spec of staged.model.spec) assert.deepEqual(staged.model.read(spec.name), unstaged.model.read(spec.name));
  unstaged.dispose();
  staged.dispose();
});

test('each bucket is handed over before the later buckets exist; the call awaits what the callbacks return', async () => {
  const trainer = Trainer.create(base);
  const buckets = trainer.gradientBuckets();
  // The caller's buffer, here shared memory as a collective on its own thread wants it.
  const into = new Float32Array(new SharedArrayBuffer(4 * (buckets[0]!.offset + buckets[0]!.length)));
  const result = await trainer.computeGradientsStaged(
    batch(3, 4),
    async (bucket) => {
      for (const later of buckets.slice(bucket.index + 1)) {
        const values = into.subarray(later.offset, later.offset + later.length);
        assert.ok(
          values.every((value) => value === 0),
          `bucket ${later.index} not written yet when ${bucket.index} is handed over`
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      bucket.values.fill(bucket.index + 1); // as an in-place all-reduce would write its result
    },
    { into }
  );
  assert.equal(result.gradients, into);
  for (const bucket of buckets) {
    const values = result.gradients.subarray(bucket.offset, bucket.offset + bucket.length);
    assert.ok(
      values.every((value) => value === bucket.index + 1),
      `bucket ${bucket.index} written by its callback`
    );
  }
  await assert.rejects(
    trainer.computeGradientsStaged(batch(3, 4), () => {}, { into: new Float32Array(10) }),
    /options.into holds 10 values, the gradient layout 11178051/
  );
  trainer.dispose();
});

test('a failing callback fails the call once the others settle, and no tensor leaks on either path', async () => {
  const trainer = Trainer.create({ ...base, microBatchSize: 2 });
  const step = async (fail: boolean): Promise<void> =>
    void (await trainer.computeGradientsStaged(batch(4, 3), async (bucket) => {
      if (fail && bucket.index === 1) throw new Error('link to rank 1 lost');
    }));
  await step(false);
  const afterFirst = tf.memory().numTensors;
  await assert.rejects(step(true), /link to rank 1 lost/);
  for (let i = 0; i < 3; i++) await step(false);
  assert.equal(tf.memory().numTensors, afterFirst);
  await assert.rejects(
    trainer.computeGradientsStaged({ ...batch(4, 3), labels: Int32Array.of(0, 1, 9) }, () => {}),
    /label 9 is outside \[0, 3\)/
  );
  assert.equal(tf.memory().numTensors, afterFirst);
  trainer.dispose();
});
