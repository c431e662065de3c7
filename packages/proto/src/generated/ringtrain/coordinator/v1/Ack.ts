// Original file: proto/coordinator.proto


export interface Ack {
}

export interface Ack__Output {
}
