import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  epochOrder,
  planEpoch,
  PlanError,
  samplesConsumedAfter,
  type EpochPlanRequest,
  type RemainderPolicy
} from './epoch-plan.js';
import { rankZeroOfTwo } from './epoch-plan.test-helper.js';

const layout = fc.record({
  shardSampleCounts: fc.array(fc.integer({ min: 0, max: 25 }), { minLength: 1, maxLength: 30 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  epoch: fc.integer({ min: 0, max: 1000 }),
  partitions: fc.integer({ min: 1, max: 12 }),
  shuffleBlockSamples: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined })
});
const world = fc.record({ worldSize: fc.integer({ min: 1, max: 9 }), batchSize: fc.integer({ min: 1, max: 7 }) });

type Layout = Omit<EpochPlanRequest, 'worldSize' | 'rank' | 'batchSize' | 'samplesConsumed' | 'remainder'>;

function planAll(
  base: Layout,
  w: { worldSize: number; batchSize: number },
  samplesConsumed: number,
  remainder: RemainderPolicy,
  options: Pick<EpochPlanRequest, 'dropLastBatchBelow'> = {}
) {
  return Array.from({ length: w.worldSize }, (_, rank) =>
    planEpoch({ ...base, ...w, rank, samplesConsumed, remainder, ...options })
  );
}

function counts(total: number, lists: Iterable<Uint32Array | number[]>): Uint32Array {
  const seen = new Uint32Array(total);
  for (const list of lists) for (const sample of list) seen[sample]! += 1;
  return seen;
}

/** How many times each sample of the layout is assigned, over every rank's plan. */
function assignments(base: Layout, plans: readonly { samples: Uint32Array | number[] }[]): Uint32Array {
  return counts(
    sum(base.shardSampleCounts),
    plans.map((plan) => plan.samples)
  );
}

/** Rank 0 of 2 at the start of epoch 0 of two shards of 5, batches of 2, remainder dropped; `overrides` on top. */
function rankZero(overrides: Partial<EpochPlanRequest> = {}): EpochPlanRequest {
  return { shardSampleCounts: [5, 5], ...rankZeroOfTwo, ...overrides };
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

describe('epoch plans', () => {
  it('drop: every sample at most once, fewer than worldSize dropped, equal counts per rank', () => {
    fc.assert(
      fc.property(layout, world, (base, w) => {
        const plans = planAll(base, w, 0, 'drop');
        const seen = assignments(base, plans);
        assert.ok(
          seen.every((n) => n <= 1),
          'a sample was assigned twice'
        );
        const missing = seen.filter((n) => n === 0).length;
        assert.equal(missing, plans[0]!.dropped);
        assert.ok(missing < w.worldSize);
        assert.ok(plans.every((plan) => plan.samples.length === plans[0]!.samples.length && plan.padded === 0));
      }),
      { numRuns: 300 }
    );
  });

  it('dropLastBatchBelow: a last step smaller than that fraction of a full one is dropped whole, a larger one kept', () => {
    fc.assert(
      fc.property(layout, world, fc.double({ min: 0, max: 1, noNaN: true }), (base, w, fraction) => {
        const total = sum(base.shardSampleCounts);
        const window = w.worldSize * w.batchSize;
        const plans = planAll(base, w, 0, 'drop', { dropLastBatchBelow: fraction });
        const seen = assignments(base, plans);
        assert.ok(
          seen.every((n) => n <= 1),
          'a sample was assigned twice'
        );
        assert.equal(
          seen.filter((n) => n === 0).length,
          plans[0]!.dropped,
          'every sample is trained or counted as dropped'
        );
        const tail = total % window;
        const full = Math.floor(total / window);
        const dropsTail = tail > 0 && tail < fraction * window && full > 0;
        assert.equal(plans[0]!.steps, full + (tail >= w.worldSize && !dropsTail ? 1 : 0));
        assert.equal(plans[0]!.dropped, dropsTail ? tail : tail % w.worldSize);
        // A resumed plan makes the same decision as the plan of the whole epoch.
        if (full > 0) {
          const resumed = planEpoch({
            ...base,
            ...w,
            rank: 0,
            samplesConsumed: window,
            remainder: 'drop',
            dropLastBatchBelow: fraction
          });
          assert.equal(resumed.dropped, plans[0]!.dropped);
          assert.deepEqual([...resumed.samples], [...plans[0]!.samples.subarray(w.batchSize)]);
        }
      }),
      { numRuns: 300 }
    );
  });

  it('dropLastBatchBelow: 900 images in global batches of 64 leave 4, dropped at 0.5, kept at 0; a lone small epoch is kept', () => {
    const base = {
      shardSampleCounts: [900],
      seed: 1,
      epoch: 0,
      partitions: 2,
      worldSize: 2,
      rank: 0,
      batchSize: 32,
      samplesConsumed: 0,
      remainder: 'drop'
    } as const;
    assert.deepEqual(
      [planEpoch({ ...base, dropLastBatchBelow: 0.5 })].map((p) => [p.steps, p.dropped]),
      [[14, 4]]
    );
    assert.deepEqual(
      [planEpoch({ ...base, dropLastBatchBelow: 0 })].map((p) => [p.steps, p.dropped]),
      [[15, 0]]
    );
    assert.deepEqual(
      [planEpoch({ ...base, shardSampleCounts: [20], dropLastBatchBelow: 1 })].map((p) => [p.steps, p.dropped]),
      [[1, 0]]
    );
    assert.throws(() => planEpoch({ ...base, dropLastBatchBelow: 2 }), /dropLastBatchBelow must be in \[0, 1\], got 2/);
  });

  it('pad: every sample at least once, repeats only as pads and fewer than worldSize, equal counts per rank', () => {
    fc.assert(
      fc.property(
        layout.filter((l) => sum(l.shardSampleCounts) > 0),
        world,
        (base, w) => {
          const total = sum(base.shardSampleCounts);
          const plans = planAll(base, w, 0, 'pad');
          const seen = assignments(base, plans);
          assert.ok(
            seen.every((n) => n >= 1),
            'a sample was skipped'
          );
          assert.equal(sum([...seen]) - total, plans[0]!.padded);
          assert.ok(plans[0]!.padded < w.worldSize);
          assert.ok(plans.every((plan) => plan.samples.length === plans[0]!.samples.length));
        }
      ),
      { numRuns: 300 }
    );
  });

  it('resumes exactly from a global cursor even when the world size and batch size change', () => {
    fc.assert(
      fc.property(
        layout,
        world,
        world,
        fc.nat(),
        fc.constantFrom<RemainderPolicy>('drop', 'pad'),
        (base, before, after, stepPick, remainder) => {
          const total = sum(base.shardSampleCounts);
          const window = before.worldSize * before.batchSize;
          const fullSteps = Math.floor(total / window);
          const stepsDone = fullSteps === 0 ? 0 : stepPick % (fullSteps + 1);
          const first = planAll(base, before, 0, remainder);
          const cursor =
            stepsDone === first[0]!.steps
              ? stepsDone * window
              : samplesConsumedAfter({ ...before, samplesConsumed: 0 }, first[0]!, stepsDone);
          const consumed = first.map((plan) => plan.samples.subarray(0, stepsDone * before.batchSize));
          // What was consumed is exactly the prefix O[0, cursor) of the world-size-independent order.
          const { order } = epochOrder(
            base.shardSampleCounts,
            base.seed,
            base.epoch,
            base.partitions,
            base.shuffleBlockSamples
          );
          assert.deepEqual(
            [...consumed.flatMap((c) => [...c])].sort((a, b) => a - b),
            [...order.subarray(0, cursor)].sort((a, b) => a - b)
          );

          const second = planAll(base, after, cursor, remainder);
          const seen = counts(total, [...consumed, ...second.map((plan) => plan.samples)]);
          if (remainder === 'drop') {
            assert.ok(
              seen.every((n) => n <= 1),
              'a sample was seen twice across the restart'
            );
            assert.equal(seen.filter((n) => n === 0).length, second[0]!.dropped);
          } else {
            assert.ok(
              seen.every((n) => n >= 1),
              'a sample was skipped across the restart'
            );
            assert.equal(sum([...seen]) - total, second[0]!.padded);
          }
          assert.ok(second.every((plan) => plan.samples.length === second[0]!.samples.length));
        }
      ),
      { numRuns: 400 }
    );
  });

  it('is deterministic, and reshuffles between epochs and seeds', () => {
    const base = {
      shardSampleCounts: Array(20).fill(50),
      worldSize: 2,
      rank: 1,
      batchSize: 8,
      samplesConsumed: 0,
      remainder: 'drop' as const,
      partitions: 4,
      seed: 5,
      epoch: 3
    };
    assert.deepEqual(planEpoch(base).samples, planEpoch(base).samples);
    assert.notDeepEqual(planEpoch({ ...base, epoch: 4 }).samples, planEpoch(base).samples);
    assert.notDeepEqual(planEpoch({ ...base, seed: 6 }).samples, planEpoch(base).samples);
  });

  it('keeps each rank on its own shards when worldSize divides partitions and partitions divide a step', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 64 }),
        fc.nat(),
        (worldSize, factor, batchSize, seed) => {
          const perShard = 40;
          const partitions = worldSize * factor;
          const shardSampleCounts = Array(partitions * 6).fill(perShard);
          const readers = new Map<number, Set<number>>();
          for (let rank = 0; rank < worldSize; rank += 1) {
            const plan = planEpoch({
              shardSampleCounts,
              seed,
              epoch: 0,
              worldSize,
              rank,
              batchSize,
              samplesConsumed: 0,
              remainder: 'drop',
              partitions
            });
            for (const sample of plan.samples) {
              const shard = Math.floor(sample / perShard);
              readers.set(shard, (readers.get(shard) ?? new Set()).add(rank));
            }
          }
          const shared = [...readers.values()].filter((set) => set.size > 1).length;
          // Otherwise a rank takes a few samples of its neighbour's partition each step: a shard is then read by
          // at most two ranks.
          assert.ok([...readers.values()].every((set) => set.size <= 2));
          // The last, shorter step may split a partition between two ranks.
          if ((worldSize * batchSize) % partitions === 0)
            assert.ok(shared <= 2 * (worldSize - 1), `${shared} shards read by two ranks`);
        }
      ),
      { numRuns: 100 }
    );
  });

  it('gives the checkpoint cursor after each step, and the whole epoch after the last', () => {
    const request = rankZero({ shardSampleCounts: [7, 6], seed: 2, epoch: 1, worldSize: 3 });
    const plan = planEpoch(request);
    assert.equal(plan.steps, 2); // 13 samples: two full steps of 6, then 1 dropped
    assert.deepEqual(
      [0, 1, 2].map((done) => samplesConsumedAfter(request, plan, done)),
      [0, 6, 13]
    );
    const resumed = { ...request, samplesConsumed: 6 };
    assert.deepEqual(
      [0, 1].map((done) => samplesConsumedAfter(resumed, planEpoch(resumed), done)),
      [6, 13]
    );
    assert.throws(() => samplesConsumedAfter(request, plan, 3), /stepsDone/);
  });

  it('refuses a cursor beyond the epoch and a rank outside the world', () => {
    const base = rankZero();
    assert.throws(() => planEpoch({ ...base, samplesConsumed: 11 }), /another dataset or split/);
    assert.throws(() => planEpoch({ ...base, rank: 2 }), PlanError);
    assert.throws(() => planEpoch({ ...base, partitions: 0 }), /partitions/);
  });
});
