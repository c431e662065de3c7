// Original file: proto/collective.proto


/**
 * One chunk of one collective operation.
 * 
 * Encoders MUST write every field, in field order, each fixed32 field as its 5 bytes, and the payload's
 * length as a 5-byte varint (an over-long varint is valid protobuf). The header is then always 31 bytes, so
 * with gRPC's 5-byte message prefix the payload starts 4-byte aligned and a receiver can read f32 values in
 * place, without copying. Any protobuf decoder still reads the frame as this message.
 */
export interface Frame {
  /**
   * Operation number within the group, from 0; every rank issues operations in the same order.
   */
  'opSeq'?: (number);
  /**
   * FrameKind in the low byte, WireFormat in the second byte.
   */
  'kind'?: (number);
  /**
   * Ring step: 0..N-2 reduce-scatter, N-1..2N-3 all-gather; hops from the root for broadcast.
   */
  'step'?: (number);
  /**
   * Position and length, in elements, of this chunk within the operation's buffer.
   */
  'elementOffset'?: (number);
  'elementCount'?: (number);
  /**
   * little-endian f32, f16 or bf16 values, or raw bytes (all-gather values).
   */
  'payload'?: (Buffer | Uint8Array | string);
}

/**
 * One chunk of one collective operation.
 * 
 * Encoders MUST write every field, in field order, each fixed32 field as its 5 bytes, and the payload's
 * length as a 5-byte varint (an over-long varint is valid protobuf). The header is then always 31 bytes, so
 * with gRPC's 5-byte message prefix the payload starts 4-byte aligned and a receiver can read f32 values in
 * place, without copying. Any protobuf decoder still reads the frame as this message.
 */
export interface Frame__Output {
  /**
   * Operation number within the group, from 0; every rank issues operations in the same order.
   */
  'opSeq': (number);
  /**
   * FrameKind in the low byte, WireFormat in the second byte.
   */
  'kind': (number);
  /**
   * Ring step: 0..N-2 reduce-scatter, N-1..2N-3 all-gather; hops from the root for broadcast.
   */
  'step': (number);
  /**
   * Position and length, in elements, of this chunk within the operation's buffer.
   */
  'elementOffset': (number);
  'elementCount': (number);
  /**
   * little-endian f32, f16 or bf16 values, or raw bytes (all-gather values).
   */
  'payload': (Buffer);
}
