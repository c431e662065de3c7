import { seededRandom, shuffleInPlace } from './seeded-random.js';

/**
 * Epoch plans: which samples of a split each rank reads, in which order, for one epoch.
 *
 * The design, and why:
 * 1. A global order O of the epoch's samples that depends only on (shard sizes, seed, epoch, partitions), never
 *    on the world size. The shards are shuffled, laid end to end and cut into `partitions` contiguous
 *    "canonical partitions" (MosaicML Streaming's canonical nodes); inside a partition samples are shuffled
 *    within blocks of a few shards; O deals the partitions round-robin, one sample each.
 * 2. Training consumes O in global steps: step t takes the next worldSize·batchSize samples of O. So after C
 *    samples consumed globally, exactly O[0, C) has been seen, whatever the world size was — which is what makes
 *    resume exact when a run restarts with a different number of ranks.
 * 3. Inside each step's window the samples are ordered by partition and cut into worldSize equal slices; rank r
 *    takes slice r. Because O interleaves partitions evenly, each rank keeps reading the same ~partitions/worldSize
 *    partitions — a few whole shards at a time — so shards are downloaded about once, not once per rank. The
 *    split is exact when worldSize divides partitions and partitions divide worldSize·batchSize (powers of two,
 *    typically); otherwise a rank takes a few samples of its neighbour's partition each step, so a shard is read
 *    by at most two ranks (property-tested).
 * 4. The last window is trimmed (`drop`) or topped up with repeats from the start of O (`pad`) to a multiple of
 *    worldSize, so every rank gets the same count. Only `pad` ever repeats a sample; `drop` skips fewer than
 *    worldSize samples of the epoch.
 * 5. A last window smaller than `dropLastBatchBelow` of a full one is dropped whole (PyTorch's `drop_last`, for
 *    small batches only): a handful of samples per rank would make batch norm normalise over almost nothing and
 *    leave that batch's statistics as the last word before validation. O is reshuffled every epoch, so the
 *    dropped samples differ from epoch to epoch. An epoch with no full window keeps its only one.
 */
export type RemainderPolicy = 'drop' | 'pad';

export type EpochPlanRequest = {
  /** Samples per shard of the split, in manifest order (shard k holds the next shardSampleCounts[k] samples). */
  shardSampleCounts: readonly number[];
  seed: number;
  epoch: number;
  worldSize: number;
  rank: number;
  /** Per-rank batch size; one global step consumes worldSize·batchSize samples. */
  batchSize: number;
  /**
   * Samples of this epoch already consumed globally before this run (0 for a fresh epoch). Must fall on a global
   * step boundary of the run that consumed them, which is where checkpoints are taken.
   */
  samplesConsumed: number;
  remainder: RemainderPolicy;
  /**
   * A last window with fewer than this fraction of worldSize·batchSize samples is dropped whole; absent or 0
   * keeps every last window, 1 drops every partial one.
   */
  dropLastBatchBelow?: number;
  /**
   * Canonical partitions: fix once per training run (e.g. the first run's world size, or a multiple of every
   * world size you expect). Changing it between restarts changes the order and breaks exact resume.
   */
  partitions: number;
  /** Samples shuffled together inside a partition; default four average shards. */
  shuffleBlockSamples?: number;
};

export type EpochPlan = {
  /** Sample indices within the split, in the order this rank consumes them. */
  samples: Uint32Array;
  /** Global steps in this plan; the last may be shorter than batchSize per rank. */
  steps: number;
  /** Samples of the epoch skipped by `drop` or `dropLastBatchBelow` (the same on every rank). */
  dropped: number;
  /** Repeated samples added by `pad` across all ranks. */
  padded: number;
  /** Samples of the split in the epoch, before the remainder policy. */
  epochSamples: number;
};

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** The epoch's world-size-independent global order, with each position's canonical partition. */
export function epochOrder(
  shardSampleCounts: readonly number[],
  seed: number,
  epoch: number,
  partitions: number,
  shuffleBlockSamples?: number
): { order: Uint32Array; partitionOf: Uint32Array } {
  const shardStarts: number[] = [];
  let total = 0;
  for (const count of shardSampleCounts) {
    if (!Number.isInteger(count) || count < 0)
      throw new PlanError(`shard sample counts must be non-negative integers, got ${count}`);
    shardStarts.push(total);
    total += count;
  }
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new PlanError(`partitions must be a positive integer, got ${partitions}`);
  const shards = Uint32Array.from(shardSampleCounts.keys());
  shuffleInPlace(shards, seededRandom(seed, epoch, 1));
  const laid = new Uint32Array(total);
  let at = 0;
  for (const shard of shards) {
    for (let i = 0; i < shardSampleCounts[shard]!; i += 1) laid[at++] = shardStarts[shard]! + i;
  }
  const averageShard = shardSampleCounts.length > 0 ? Math.ceil(total / shardSampleCounts.length) : 1;
  const block = Math.max(1, shuffleBlockSamples ?? 4 * averageShard);
  const bounds = Array.from({ length: partitions + 1 }, (_, p) => Math.floor((p * total) / partitions));
  for (let p = 0; p < partitions; p += 1) {
    for (let start = bounds[p]!, k = 0; start < bounds[p + 1]!; start += block, k += 1) {
      shuffleInPlace(laid.subarray(start, Math.min(start + block, bounds[p + 1]!)), seededRandom(seed, epoch, 2, p, k));
    }
  }
  const order = new Uint32Array(total);
  const partitionOf = new Uint32Array(total);
  const longest = Math.ceil(total / partitions);
  let out = 0;
  for (let position = 0; position < longest; position += 1) {
    for (let p = 0; p < partitions; p += 1) {
      const index = bounds[p]! + position;
      if (index >= bounds[p + 1]!) continue;
      order[out] = laid[index]!;
      partitionOf[out] = p;
      out += 1;
    }
  }
  return { order, partitionOf };
}

/** How an epoch's remaining samples fall into global steps: full windows, then one last window, or none. */
export interface EpochWindows {
  /** Steps of worldSize·batchSize samples. */
  fullWindows: number;
  /** Samples of the last, shorter step (a multiple of worldSize), or 0 when there is none. */
  tailLength: number;
  /** Samples skipped, the same on every rank. */
  dropped: number;
  /** Repeats added by `pad`, across all ranks. */
  padded: number;
}

/**
 * The window arithmetic of `planEpoch`, alone: what the run plan and the learning-rate schedule count as an
 * epoch's iterations, so that they always agree with the plans the workers train on.
 */
export function epochWindows(
  request: Pick<
    EpochPlanRequest,
    'worldSize' | 'batchSize' | 'samplesConsumed' | 'remainder' | 'dropLastBatchBelow'
  > & { samples: number }
): EpochWindows {
  const { worldSize, batchSize, samplesConsumed } = request;
  const window = worldSize * batchSize;
  const remaining = request.samples - samplesConsumed;
  const fullWindows = Math.floor(remaining / window);
  const tail = remaining - fullWindows * window;
  const tailExcess = tail % worldSize;
  const dropLastBelow = request.dropLastBatchBelow ?? 0;
  if (!(dropLastBelow >= 0 && dropLastBelow <= 1))
    throw new PlanError(`dropLastBatchBelow must be in [0, 1], got ${dropLastBelow}`);
  if (tail > 0 && tail < dropLastBelow * window && (fullWindows > 0 || samplesConsumed > 0)) {
    return { fullWindows, tailLength: 0, dropped: tail, padded: 0 };
  }
  if (tailExcess !== 0 && request.remainder === 'drop')
    return { fullWindows, tailLength: tail - tailExcess, dropped: tailExcess, padded: 0 };
  if (tailExcess !== 0)
    return { fullWindows, tailLength: tail + worldSize - tailExcess, dropped: 0, padded: worldSize - tailExcess };
  return { fullWindows, tailLength: tail, dropped: 0, padded: 0 };
}

/** The plan of one rank. Pure and deterministic: the service and a worker compute the same plan. */
export function planEpoch(request: EpochPlanRequest): EpochPlan {
  const { worldSize, rank, batchSize, samplesConsumed } = request;
  for (const [name, value, min] of [
    ['worldSize', worldSize, 1],
    ['batchSize', batchSize, 1],
    ['rank', rank, 0],
    ['samplesConsumed', samplesConsumed, 0]
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min)
      throw new PlanError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  if (rank >= worldSize) throw new PlanError(`rank ${rank} is outside a world of ${worldSize}`);
  const { order, partitionOf } = epochOrder(
    request.shardSampleCounts,
    request.seed,
    request.epoch,
    request.partitions,
    request.shuffleBlockSamples
  );
  const total = order.length;
  if (samplesConsumed > total) {
    throw new PlanError(
      `cursor says ${samplesConsumed} samples consumed but the epoch has ${total}: the checkpoint belongs to another dataset or split`
    );
  }
  const window = worldSize * batchSize;
  const { fullWindows, tailLength, dropped, padded } = epochWindows({ ...request, samples: total });
  const steps = fullWindows + (tailLength > 0 ? 1 : 0);
  const perRank = fullWindows * batchSize + tailLength / worldSize;
  const samples = new Uint32Array(perRank);
  let out = 0;
  // Positions in O of the current window; pads (beyond the end of O) wrap to its start.
  const positions: number[] = [];
  for (let step = 0; step < steps; step += 1) {
    const start = samplesConsumed + step * window;
    const length = step < fullWindows ? window : tailLength;
    positions.length = 0;
    for (let i = 0; i < length; i += 1) {
      const position = start + i;
      positions.push(position < total ? position : (position - total) % total);
    }
    // Stable by partition, then by position in O, so that each rank's slice stays on the same partitions.
    positions.sort((a, b) => partitionOf[a]! - partitionOf[b]! || a - b);
    const slice = length / worldSize;
    for (let i = rank * slice; i < (rank + 1) * slice; i += 1) samples[out++] = order[positions[i]!]!;
  }
  return { samples, steps, dropped, padded, epochSamples: total };
}

/**
 * The resume cursor to checkpoint after `stepsDone` global steps of a plan: samples of the epoch consumed
 * globally. After the plan's last step it is the epoch's size (the epoch is complete, dropped samples included).
 */
export function samplesConsumedAfter(
  request: Pick<EpochPlanRequest, 'samplesConsumed' | 'worldSize' | 'batchSize'>,
  plan: Pick<EpochPlan, 'steps' | 'epochSamples'>,
  stepsDone: number
): number {
  if (!Number.isInteger(stepsDone) || stepsDone < 0 || stepsDone > plan.steps) {
    throw new PlanError(`stepsDone must be an integer in [0, ${plan.steps}], got ${stepsDone}`);
  }
  if (stepsDone === plan.steps) return plan.epochSamples;
  return request.samplesConsumed + stepsDone * request.worldSize * request.batchSize;
}
