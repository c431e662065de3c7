// Original file: proto/coordinator.proto


export interface RegisterResponse {
  /**
   * True when the run is over (finished, failed or stopped): the worker exits.
   */
  'runEnded'?: (boolean);
  'runEndedReason'?: (string);
  'runId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * Collective endpoint of every rank, indexed by rank: the ring order.
   */
  'peers'?: (string)[];
  /**
   * Shared secret of this generation's process group.
   */
  'collectiveToken'?: (string);
  /**
   * The run configuration as JSON; the worker validates it with the coordinator package's schema.
   */
  'configJson'?: (string);
}

export interface RegisterResponse__Output {
  /**
   * True when the run is over (finished, failed or stopped): the worker exits.
   */
  'runEnded': (boolean);
  'runEndedReason': (string);
  'runId': (string);
  'generation': (number);
  'rank': (number);
  'worldSize': (number);
  /**
   * Collective endpoint of every rank, indexed by rank: the ring order.
   */
  'peers': (string)[];
  /**
   * Shared secret of this generation's process group.
   */
  'collectiveToken': (string);
  /**
   * The run configuration as JSON; the worker validates it with the coordinator package's schema.
   */
  'configJson': (string);
}
