import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadProto, type Frame__Output, type LinkRequest } from '@ringtrain/proto';
import { decodeFrame, FRAME_HEADER_BYTES, FrameKind, writeFrameHeader, type FrameHeader } from './frame.js';

const protobufLink = (
  loadProto('collective.proto')['ringtrain.collective.v1.Collective'] as Record<
    string,
    MethodDefinition<LinkRequest, Frame__Output>
  >
)['Link']!;

function encode(header: FrameHeader, payload: Buffer): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(frame, 0, header, payload.length);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

const header: FrameHeader = {
  opSeq: 4_000_000_000,
  kind: FrameKind.allReduce,
  format: 'bf16',
  step: 3,
  elementOffset: 123_456,
  elementCount: 3
};

test('a hand-encoded frame decodes back to its header and payload', () => {
  const payload = Buffer.from([1, 2, 3, 4, 5, 6]);
  const decoded = decodeFrame(encode(header, payload));
  assert.ok(typeof decoded !== 'string', String(decoded));
  assert.deepEqual({ ...decoded, payload: [...decoded.payload] }, { ...header, payload: [...payload] });
});

test('any protobuf decoder reads the hand-encoded frame as ringtrain.collective.v1.Frame', () => {
  const payload = Buffer.alloc(300_000, 7);
  const message = protobufLink.responseDeserialize(encode(header, payload));
  assert.equal(message.opSeq, header.opSeq);
  assert.equal(message.kind, FrameKind.allReduce | (2 << 8));
  assert.equal(message.step, 3);
  assert.equal(message.elementOffset, 123_456);
  assert.equal(message.elementCount, 3);
  assert.ok(Buffer.from(message.payload).equals(payload));
});

test('the payload starts 4-byte aligned behind gRPC’s 5-byte prefix', () => {
  assert.equal((5 + FRAME_HEADER_BYTES) % 4, 0);
});

test('truncated, mislaid or mislabelled frames are named, not thrown', () => {
  const good = encode(header, Buffer.alloc(6));
  assert.match(decodeFrame(good.subarray(0, 10)) as string, /shorter than its header/);
  assert.match(decodeFrame(good.subarray(0, good.length - 1)) as string, /declares 6 payload bytes but carries 5/);
  const wrongTag = Buffer.from(good);
  wrongTag[5] = 0x99;
  assert.match(decodeFrame(wrongTag) as string, /field 2 is not at its fixed position/);
  const wrongKind = Buffer.from(good);
  wrongKind.writeUInt32LE(77, 6);
  assert.match(decodeFrame(wrongKind) as string, /unknown frame kind 77/);
});
