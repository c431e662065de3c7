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
}
