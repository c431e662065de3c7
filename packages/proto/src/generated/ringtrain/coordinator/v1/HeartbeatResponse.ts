// Original file: proto/coordinator.proto


export interface HeartbeatResponse {
  /**
   * The worker's generation has ended: abort the process group and register again.
   */
  'abort'?: (boolean);
  'reason'?: (string);
  /**
   * Stop after the current step, leaving a checkpoint (Ctrl-C, or a stop request on the coordinator).
   */
  'stop'?: (boolean);
}

export interface HeartbeatResponse__Output {
  /**
   * The worker's generation has ended: abort the process group and register again.
   */
  'abort': (boolean);
  'reason': (string);
  /**
   * Stop after the current step, leaving a checkpoint (Ctrl-C, or a stop request on the coordinator).
   */
  'stop': (boolean);
}
