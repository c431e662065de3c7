// Original file: proto/collective.proto

export const WireFormat = {
  WIRE_FORMAT_F32: 'WIRE_FORMAT_F32',
  WIRE_FORMAT_F16: 'WIRE_FORMAT_F16',
  WIRE_FORMAT_BF16: 'WIRE_FORMAT_BF16',
  WIRE_FORMAT_BYTES: 'WIRE_FORMAT_BYTES',
} as const;

export type WireFormat =
  | 'WIRE_FORMAT_F32'
  | 0
  | 'WIRE_FORMAT_F16'
  | 1
  | 'WIRE_FORMAT_BF16'
  | 2
  | 'WIRE_FORMAT_BYTES'
  | 3

export type WireFormat__Output = typeof WireFormat[keyof typeof WireFormat]
