// Original file: proto/coordinator.proto


export interface HeartbeatRequest {
  'workerId'?: (string);
  'generation'?: (number);
}

export interface HeartbeatRequest__Output {
  'workerId': (string);
  'generation': (number);
}
