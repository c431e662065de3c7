import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BufferPool } from './buffer-pool.js';
import { GRPC_PREFIX_BYTES, MessageReader, WIRE_HEADER_BYTES, writeMessagePrefix } from './link.js';

function message(bodyBytes: number, seed: number): Buffer {
  const wire = Buffer.alloc(GRPC_PREFIX_BYTES + bodyBytes);
  writeMessagePrefix(wire, 0, bodyBytes);
  for (let i = GRPC_PREFIX_BYTES; i < wire.length; i += 1) wire[i] = (i * 31 + seed) & 0xff;
  return wire;
}

test('messages cut anywhere on the way come out whole, aligned, in pooled buffers', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
      (bodySizes, cutSizes) => {
        const pool = new BufferPool(GRPC_PREFIX_BYTES + 600);
        const sent = bodySizes.map((bytes, index) => message(bytes, index));
        const received: Buffer[] = [];
        const reader = new MessageReader(
          pool,
          (wire) => {
            assert.equal(
              wire.byteOffset,
              0,
              'a message starts its buffer, so its payload behind the header is aligned'
            );
            received.push(Buffer.from(wire));
            pool.release(wire);
          },
          (detail) => assert.fail(detail)
        );
        const stream = Buffer.concat(sent);
        for (let position = 0, cut = 0; position < stream.length; cut += 1) {
          const size = cutSizes[cut % cutSizes.length]!;
          reader.push(stream.subarray(position, position + size));
          position += size;
        }
        assert.deepEqual(received, sent);
        assert.equal(pool.allocatedCount, 1, 'each message reuses the buffer the previous one returned');
      }
    )
  );
});

test('an oversized or compressed message is reported once and nothing after it is read', () => {
  const pool = new BufferPool(WIRE_HEADER_BYTES + 64);
  for (const [bad, expected] of [
    [message(WIRE_HEADER_BYTES + 64, 1), /message of 100 bytes, more than a frame of this group can hold \(95\)/],
    [Buffer.from([1, 0, 0, 0, 4, 1, 2, 3, 4]), /compressed gRPC message/]
  ] as const) {
    const defects: string[] = [];
    const messages: Buffer[] = [];
    const reader = new MessageReader(
      pool,
      (wire) => messages.push(wire),
      (detail) => defects.push(detail)
    );
    reader.push(bad);
    reader.push(message(8, 2));
    assert.equal(defects.length, 1);
    assert.match(defects[0]!, expected);
    assert.equal(messages.length, 0);
  }
});

test('the pool takes back views into its own buffers and ignores anything else', () => {
  const pool = new BufferPool(64);
  const first = pool.acquire();
  pool.release(first.subarray(0, 10));
  assert.equal(pool.acquire().buffer, first.buffer, 'a released view returns its whole buffer');
  pool.release(Buffer.alloc(64));
  pool.acquire();
  assert.equal(pool.allocatedCount, 2, 'a foreign buffer of the same size is never handed out');
});
