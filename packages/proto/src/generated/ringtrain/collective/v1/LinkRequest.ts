// Original file: proto/collective.proto


export interface LinkRequest {
  /**
   * Run id and generation identify one process group; a restarted gang gets a new generation.
   */
  'groupId'?: (string);
  'generation'?: (number);
  'worldSize'?: (number);
  /**
   * The caller's rank; it must be the server's right neighbour.
   */
  'fromRank'?: (number);
  /**
   * The rank the caller believes it is calling.
   */
  'toRank'?: (number);
}

export interface LinkRequest__Output {
  /**
   * Run id and generation identify one process group; a restarted gang gets a new generation.
   */
  'groupId': (string);
  'generation': (number);
  'worldSize': (number);
  /**
   * The caller's rank; it must be the server's right neighbour.
   */
  'fromRank': (number);
  /**
   * The rank the caller believes it is calling.
   */
  'toRank': (number);
}
