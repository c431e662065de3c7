// Original file: proto/dataset.proto

import type { RemainderPolicy as _ringtrain_dataset_v1_RemainderPolicy, RemainderPolicy__Output as _ringtrain_dataset_v1_RemainderPolicy__Output } from '../../../ringtrain/dataset/v1/RemainderPolicy';
import type { Long } from '@grpc/proto-loader';

export interface GetEpochPlanRequest {
  'datasetUri'?: (string);
  /**
   * "train" or "val".
   */
  'split'?: (string);
  'seed'?: (number | string | Long);
  'epoch'?: (number);
  'worldSize'?: (number);
  'rank'?: (number);
  /**
   * Per-rank batch size; one global step consumes world_size * batch_size samples.
   */
  'batchSize'?: (number);
  /**
   * Resume cursor: samples of this epoch consumed globally before this run, at a global step boundary.
   */
  'samplesConsumed'?: (number | string | Long);
  'remainder'?: (_ringtrain_dataset_v1_RemainderPolicy);
  /**
   * Canonical partitions, fixed for the whole training run.
   */
  'partitions'?: (number);
  /**
   * Samples shuffled together inside a partition; 0 means the default (four average shards).
   */
  'shuffleBlockSamples'?: (number);
  /**
   * A last step with fewer than this fraction of world_size * batch_size samples is dropped whole; 0 keeps it.
   */
  'dropLastBatchBelow'?: (number | string);
}

export interface GetEpochPlanRequest__Output {
  'datasetUri': (string);
  /**
   * "train" or "val".
   */
  'split': (string);
  'seed': (string);
  'epoch': (number);
  'worldSize': (number);
  'rank': (number);
  /**
   * Per-rank batch size; one global step consumes world_size * batch_size samples.
   */
  'batchSize': (number);
  /**
   * Resume cursor: samples of this epoch consumed globally before this run, at a global step boundary.
   */
  'samplesConsumed': (string);
  'remainder': (_ringtrain_dataset_v1_RemainderPolicy__Output);
  /**
   * Canonical partitions, fixed for the whole training run.
   */
  'partitions': (number);
  /**
   * Samples shuffled together inside a partition; 0 means the default (four average shards).
   */
  'shuffleBlockSamples': (number);
  /**
   * A last step with fewer than this fraction of world_size * batch_size samples is dropped whole; 0 keeps it.
   */
  'dropLastBatchBelow': (number);
}
