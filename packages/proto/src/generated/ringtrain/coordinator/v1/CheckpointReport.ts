// Original file: proto/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface CheckpointReport {
  'workerId'?: (string);
  'generation'?: (number);
  'key'?: (string);
  'epoch'?: (number);
  'globalStep'?: (number | string | Long);
  'samplesConsumed'?: (number | string | Long);
  'bytes'?: (number | string | Long);
}

export interface CheckpointReport__Output {
  'workerId': (string);
  'generation': (number);
  'key': (string);
  'epoch': (number);
  'globalStep': (string);
  'samplesConsumed': (string);
  'bytes': (string);
}
