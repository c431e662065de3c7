// Original file: proto/coordinator.proto

import type { RankStepTime as _ringtrain_coordinator_v1_RankStepTime, RankStepTime__Output as _ringtrain_coordinator_v1_RankStepTime__Output } from '../../../ringtrain/coordinator/v1/RankStepTime';
import type { Long } from '@grpc/proto-loader';

export interface StepReport {
  'workerId'?: (string);
  'generation'?: (number);
  'epoch'?: (number);
  /**
   * Optimizer steps taken in the whole run.
   */
  'globalStep'?: (number | string | Long);
  /**
   * Step within the epoch (1-based) and the epoch's step count.
   */
  'epochStep'?: (number);
  'epochSteps'?: (number);
  /**
   * Mean over the global batch.
   */
  'loss'?: (number | string);
  'accuracy'?: (number | string);
  'images'?: (number);
  'imagesPerSecond'?: (number | string);
  /**
   * Where the step's time went, on the reporting rank.
   */
  'dataWaitSeconds'?: (number | string);
  'computeSeconds'?: (number | string);
  'allreduceSeconds'?: (number | string);
  'optimizerSeconds'?: (number | string);
  'learningRate'?: (number | string);
  /**
   * Every rank's own split of the step, by rank: the dashboard shows which rank the others wait for.
   */
  'ranks'?: (_ringtrain_coordinator_v1_RankStepTime)[];
}

export interface StepReport__Output {
  'workerId': (string);
  'generation': (number);
  'epoch': (number);
  /**
   * Optimizer steps taken in the whole run.
   */
  'globalStep': (string);
  /**
   * Step within the epoch (1-based) and the epoch's step count.
   */
  'epochStep': (number);
  'epochSteps': (number);
  /**
   * Mean over the global batch.
   */
  'loss': (number);
  'accuracy': (number);
  'images': (number);
  'imagesPerSecond': (number);
  /**
   * Where the step's time went, on the reporting rank.
   */
  'dataWaitSeconds': (number);
  'computeSeconds': (number);
  'allreduceSeconds': (number);
  'optimizerSeconds': (number);
  'learningRate': (number);
  /**
   * Every rank's own split of the step, by rank: the dashboard shows which rank the others wait for.
   */
  'ranks': (_ringtrain_coordinator_v1_RankStepTime__Output)[];
}
