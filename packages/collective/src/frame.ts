import type { WireFormat } from './wire-format.js';

/**
 * The fixed layout of a `ringtrain.collective.v1.Frame` (see packages/proto/proto/collective.proto): five
 * fixed32 fields and the payload with a 5-byte length, all 31 header bytes at fixed positions. Encoding by hand
 * lets a sender write values straight after the header and a receiver read them in place.
 */
export const FRAME_HEADER_BYTES = 31;

export const FrameKind = {
  accepted: 1,
  allReduce: 2,
  broadcast: 3,
  allGather: 4
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Payload encodings; `bytes` carries opaque values (all-gather). */
export type PayloadFormat = WireFormat | 'bytes';

const PAYLOAD_FORMAT_CODES: Record<PayloadFormat, number> = { f32: 0, f16: 1, bf16: 2, bytes: 3 };
const PAYLOAD_FORMATS: readonly PayloadFormat[] = ['f32', 'f16', 'bf16', 'bytes'];

export interface FrameHeader {
  opSeq: number;
  kind: FrameKind;
  format: PayloadFormat;
  step: number;
  elementOffset: number;
  elementCount: number;
}

export interface DecodedFrame extends FrameHeader {
  payload: Buffer;
}

const FIXED32_TAGS = [0x0d, 0x15, 0x1d, 0x25, 0x2d] as const;
const PAYLOAD_TAG = 0x7a;

/** Writes the 31 header bytes at `target[offset…]` for a payload of `payloadBytes` bytes. */
export function writeFrameHeader(target: Buffer, offset: number, header: FrameHeader, payloadBytes: number): void {
  const values = [
    header.opSeq,
    header.kind | (PAYLOAD_FORMAT_CODES[header.format] << 8),
    header.step,
    header.elementOffset,
    header.elementCount
  ];
  let position = offset;
  for (let field = 0; field < 5; field += 1) {
    target[position] = FIXED32_TAGS[field]!;
    target.writeUInt32LE(values[field]! >>> 0, position + 1);
    position += 5;
  }
  target[position] = PAYLOAD_TAG;
  target[position + 1] = (payloadBytes & 0x7f) | 0x80;
  target[position + 2] = ((payloadBytes >>> 7) & 0x7f) | 0x80;
  target[position + 3] = ((payloadBytes >>> 14) & 0x7f) | 0x80;
  target[position + 4] = ((payloadBytes >>> 21) & 0x7f) | 0x80;
  target[position + 5] = (payloadBytes >>> 28) & 0x0f;
}

/** Parses a frame; returns a string naming the defect instead of throwing, so callers attach the peer. */
export function decodeFrame(frame: Buffer): DecodedFrame | string {
  if (frame.length < FRAME_HEADER_BYTES) return `frame of ${frame.length} bytes is shorter than its header`;
  const values: number[] = [];
  for (let field = 0; field < 5; field += 1) {
    const position = field * 5;
    if (frame[position] !== FIXED32_TAGS[field]) return `frame field ${field + 1} is not at its fixed position`;
    values.push(frame.readUInt32LE(position + 1));
  }
  if (frame[25] !== PAYLOAD_TAG) return 'frame payload is not at its fixed position';
  const payloadBytes =
    (frame[26]! & 0x7f) +
    (frame[27]! & 0x7f) * 2 ** 7 +
    (frame[28]! & 0x7f) * 2 ** 14 +
    (frame[29]! & 0x7f) * 2 ** 21 +
    frame[30]! * 2 ** 28;
  if (payloadBytes !== frame.length - FRAME_HEADER_BYTES) {
    return `frame declares ${payloadBytes} payload bytes but carries ${frame.length - FRAME_HEADER_BYTES}`;
  }
  const kindCode = values[1]! & 0xff;
  const format = PAYLOAD_FORMATS[values[1]! >>> 8];
  if (kindCode < FrameKind.accepted || kindCode > FrameKind.allGather) return `unknown frame kind ${kindCode}`;
  if (format === undefined) return `unknown payload format ${values[1]! >>> 8}`;
  return {
    opSeq: values[0]!,
    kind: kindCode as FrameKind,
    format,
    step: values[2]!,
    elementOffset: values[3]!,
    elementCount: values[4]!,
    payload: frame.subarray(FRAME_HEADER_BYTES)
  };
}
