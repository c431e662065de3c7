// Original file: proto/coordinator.proto


export interface FinishedReport {
  'workerId'?: (string);
  'generation'?: (number);
  /**
   * True when the worker stopped on request before the last epoch.
   */
  'stopped'?: (boolean);
  /**
   * sha256 of every tensor of the final model on this rank: equal on all ranks.
   */
  'weightsSha256'?: (string);
  /**
   * JSON of the rank's final figures (model paths on rank 0).
   */
  'summaryJson'?: (string);
}

export interface FinishedReport__Output {
  'workerId': (string);
  'generation': (number);
  /**
   * True when the worker stopped on request before the last epoch.
   */
  'stopped': (boolean);
  /**
   * sha256 of every tensor of the final model on this rank: equal on all ranks.
   */
  'weightsSha256': (string);
  /**
   * JSON of the rank's final figures (model paths on rank 0).
   */
  'summaryJson': (string);
}
