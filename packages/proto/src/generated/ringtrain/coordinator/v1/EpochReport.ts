// Original file: proto/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface EpochReport {
  'workerId'?: (string);
  'generation'?: (number);
  'epoch'?: (number);
  'trainLoss'?: (number | string);
  'trainAccuracy'?: (number | string);
  'valLoss'?: (number | string);
  'valAccuracy'?: (number | string);
  'valImages'?: (number);
  /**
   * Samples trained on in this epoch, across restarts, and a checksum of their indices: the sample accounting.
   */
  'samplesTrained'?: (number | string | Long);
  'sampleChecksum'?: (string);
  'samplesDropped'?: (number);
  'seconds'?: (number | string);
  'imagesPerSecond'?: (number | string);
  /**
   * The validation confusion matrix summed over all ranks, row-major num_classes × num_classes:
   * row = true class, column = predicted class. Empty when the worker does not compute it.
   */
  'confusion'?: (number)[];
}

export interface EpochReport__Output {
  'workerId': (string);
  'generation': (number);
  'epoch': (number);
  'trainLoss': (number);
  'trainAccuracy': (number);
  'valLoss': (number);
  'valAccuracy': (number);
  'valImages': (number);
  /**
   * Samples trained on in this epoch, across restarts, and a checksum of their indices: the sample accounting.
   */
  'samplesTrained': (string);
  'sampleChecksum': (string);
  'samplesDropped': (number);
  'seconds': (number);
  'imagesPerSecond': (number);
  /**
   * The validation confusion matrix summed over all ranks, row-major num_classes × num_classes:
   * row = true class, column = predicted class. Empty when the worker does not compute it.
   */
  'confusion': (number)[];
}
