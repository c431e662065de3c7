import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllReduceOptions, CollectiveGroup } from '@ringtrain/collective';
import { initBackend, SeededRandom, Trainer } from '@ringtrain/model';
import type { TrainingBatch } from '@ringtrain/model';
import { GradientAverager } from './gradient-step.js';

await initBackend({ log: () => {} });

const SIZE = 32;
const config = { numClasses: 3, imageSize: SIZE, seed: 5 };

function batch(count: number): TrainingBatch {
  const random = SeededRandom.fromSeed(7);
  return {
    images: Float32Array.from({ length: count * SIZE * SIZE * 3 }, () => random.normal()),
    labels: Int32Array.from({ length: count }, () => Math.floor(random.uniform() * 3)),
    count
  };
}

/**
 * A one-rank stand-in for the ring that records which range of which buffer each all-reduce was given, and settles
 * a few milliseconds later, as a real one would, while the caller goes on.
 */
function recordingGroup(): { group: CollectiveGroup; calls: Array<{ offset: number; length: number; wire?: string }> } {
  const calls: Array<{ offset: number; length: number; wire?: string }> = [];
  const group = {
    allReduce: (data: Float32Array, options?: AllReduceOptions) => {
      calls.push({
        offset: data.byteOffset / 4,
        length: data.length,
        ...(options?.wire ? { wire: options.wire } : {})
      });
      return new Promise<void>((resolve) => setTimeout(resolve, 2));
    }
  };
  return { group: group as unknown as CollectiveGroup, calls };
}

test('overlapped: one all-reduce per bucket, in gradientBuckets() order, over the same gradients as unstaged', async () => {
  const [plain, staged] = [Trainer.create(config), Trainer.create(config)];
  const unstaged = recordingGroup();
  const overlapped = recordingGroup();
  const allReduce: AllReduceOptions = { op: 'mean', wire: 'bf16' };
  const expected = await new GradientAverager(unstaged.group, { overlap: false, allReduce }).step(plain, batch(4));
  const averager = new GradientAverager(overlapped.group, { overlap: true, allReduce });
  const actual = await averager.step(staged, batch(4));
  assert.deepEqual(unstaged.calls, [{ offset: 0, length: expected.result.gradients.length, wire: 'bf16' }]);
  const buckets = staged.gradientBuckets();
  assert.deepEqual(
    overlapped.calls,
    buckets.map(({ offset, length }) => ({ offset, length, wire: 'bf16' }))
  );
  assert.equal(actual.result.loss, expected.result.loss);
  assert.deepEqual(actual.result.gradients, expected.result.gradients);
  assert.ok(actual.computed <= actual.allReduced);
  // The buffer is reused: a second step writes into the same memory.
  const second = await averager.step(staged, batch(4));
  assert.equal(second.result.gradients, actual.result.gradients);
  plain.dispose();
  staged.dispose();
});

test('overlapped, a rank with an empty batch reduces zeros in the same buckets, in the same order', async () => {
  const trainer = Trainer.create(config);
  const { group, calls } = recordingGroup();
  const averager = new GradientAverager(group, { overlap: true, allReduce: { op: 'mean' } });
  const empty = await averager.step(trainer, { images: new Float32Array(0), labels: new Int32Array(0), count: 0 });
  assert.deepEqual(
    calls,
    trainer.gradientBuckets().map(({ offset, length }) => ({ offset, length }))
  );
  assert.equal(empty.result.count, 0);
  assert.ok(empty.result.gradients.every((value) => value === 0));
  trainer.dispose();
});
