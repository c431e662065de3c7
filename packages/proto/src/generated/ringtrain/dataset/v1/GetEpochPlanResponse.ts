// Original file: proto/dataset.proto

import type { Long } from '@grpc/proto-loader';

export interface GetEpochPlanResponse {
  /**
   * Sample indices within the split, in this rank's consumption order.
   */
  'samples'?: (number)[];
  'steps'?: (number);
  'dropped'?: (number);
  'padded'?: (number);
  'epochSamples'?: (number | string | Long);
  'manifestSha256'?: (string);
}

export interface GetEpochPlanResponse__Output {
  /**
   * Sample indices within the split, in this rank's consumption order.
   */
  'samples': (number)[];
  'steps': (number);
  'dropped': (number);
  'padded': (number);
  'epochSamples': (string);
  'manifestSha256': (string);
}
