// Original file: proto/coordinator.proto


export interface FailureReport {
  'workerId'?: (string);
  'generation'?: (number);
  'reason'?: (string);
  /**
   * The collective's error code (e.g. PEER_LOST, TIMEOUT) or a worker code (DATA, CONFIG).
   */
  'code'?: (string);
  /**
   * False when retrying cannot help (bad configuration, bad data): the run fails at once.
   */
  'retryable'?: (boolean);
}

export interface FailureReport__Output {
  'workerId': (string);
  'generation': (number);
  'reason': (string);
  /**
   * The collective's error code (e.g. PEER_LOST, TIMEOUT) or a worker code (DATA, CONFIG).
   */
  'code': (string);
  /**
   * False when retrying cannot help (bad configuration, bad data): the run fails at once.
   */
  'retryable': (boolean);
}
