import type { EpochPlanRequest } from './epoch-plan.js';

/**
 * The plan fields of the dataset tests' smallest request: rank 0 of 2 at the start of epoch 0, seed 1, batches of
 * 2 over 2 partitions, the remainder dropped. A test spreads its own layout (or dataset and split) and overrides.
 */
export const rankZeroOfTwo = {
  seed: 1,
  epoch: 0,
  worldSize: 2,
  rank: 0,
  batchSize: 2,
  samplesConsumed: 0,
  remainder: 'drop',
  partitions: 2
} as const satisfies Omit<EpochPlanRequest, 'shardSampleCounts'>;
