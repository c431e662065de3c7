// Original file: proto/coordinator.proto


export interface RegisterRequest {
  /**
   * Stable across restarts of the same worker slot (a pod name, or worker-<i> locally).
   */
  'workerId'?: (string);
  /**
   * host:port of the worker's collective endpoint, already listening.
   */
  'collectiveAddress'?: (string);
}

export interface RegisterRequest__Output {
  /**
   * Stable across restarts of the same worker slot (a pod name, or worker-<i> locally).
   */
  'workerId': (string);
  /**
   * host:port of the worker's collective endpoint, already listening.
   */
  'collectiveAddress': (string);
}
