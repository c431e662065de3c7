import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSafetensors, encodeSafetensors, float32Bytes, toFloat32 } from './safetensors.js';
import type { RawTensor } from './safetensors.js';

function header(json: object, data = new Uint8Array()): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

test('encode → decode returns every tensor, shape, dtype and metadata unchanged', () => {
  const tensorArb = fc
    .array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        values: fc.float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }),
      }),
    );
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(fc.string({ minLength: 1 }).filter((s) => s !== '__metadata__'), tensorArb), { selector: ([name]) => name, maxLength: 5 }), fc.dictionary(fc.string(), fc.string()), (entries, metadata) => {
      const tensors = entries.map(([name, t]): [string, RawTensor] => [name, { dtype: 'F32', shape: t.shape, data: float32Bytes(t.values) }]);
      const bytes = encodeSafetensors(tensors, metadata);
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal(headerLength % 8, 0, 'header padded to 8 bytes');
      const decoded = decodeSafetensors(bytes);
      assert.deepEqual(decoded.metadata, Object.keys(metadata).length > 0 ? { ...metadata } : {});
      assert.deepEqual([...decoded.tensors.keys()].sort(), entries.map(([n]) => n).sort());
      for (const [name, t] of entries) {
        const got = decoded.tensors.get(name)!;
        assert.deepEqual(got.shape, t.shape);
        assert.deepEqual(toFloat32(name, got), t.values);
      }
    }),
    { numRuns: 50 },
  );
});

test('reads tensors out of a Node Buffer, as readFileSync returns them', () => {
  const bytes = encodeSafetensors([
    ['a', { dtype: 'F32', shape: [2], data: float32Bytes(Float32Array.of(1, 2)) }],
    ['b', { dtype: 'F32', shape: [1], data: float32Bytes(Float32Array.of(3)) }],
  ]);
  const file = decodeSafetensors(Buffer.from(bytes));
  assert.deepEqual(toFloat32('a', file.tensors.get('a')!), Float32Array.of(1, 2));
  assert.deepEqual(toFloat32('b', file.tensors.get('b')!), Float32Array.of(3));
});

test('tensor names that are Object.prototype keys are ordinary names', () => {
  for (const name of ['valueOf', '__proto__', 'constructor']) {
    const file = decodeSafetensors(encodeSafetensors([[name, { dtype: 'U8', shape: [1], data: Uint8Array.of(7) }]]));
    assert.deepEqual([...file.tensors.keys()], [name]);
  }
});

test('reads the half-precision and integer dtypes PyTorch files use', () => {
  const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xc0, 7, 0, 0, 0, 0, 0, 0, 0]);
  const file = decodeSafetensors(
    header(
      {
        h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
        n: { dtype: 'I64', shape: [], data_offsets: [8, 16] },
      },
      data,
    ),
  );
  assert.deepEqual([...toFloat32('h', file.tensors.get('h')!)], [1, -2]);
  assert.deepEqual([...toFloat32('b', file.tensors.get('b')!)], [1, -2]);
  assert.deepEqual([...toFloat32('n', file.tensors.get('n')!)], [7]);
});

test('rejects malformed files with a message naming the problem', () => {
  assert.throws(() => decodeSafetensors(new Uint8Array(4)), /shorter than the 8-byte header length/);
  const tooLong = new Uint8Array(16);
  new DataView(tooLong.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => decodeSafetensors(tooLong), /header length 1000 exceeds the file/);
  assert.throws(() => decodeSafetensors(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4))), /a: data ends at 8, past the file's 4 data bytes/);
  assert.throws(() => decodeSafetensors(header({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))), /a: 8 bytes for F32\[3\] \(expected 12\)/);
  assert.throws(() => decodeSafetensors(header({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))), /a: unsupported dtype "C64"/);
  assert.throws(
    () =>
      decodeSafetensors(
        header({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
      ),
    /b: data starts at 8, expected 4 \(gap or overlap\)/,
  );
  assert.throws(() => decodeSafetensors(header({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(3))), /2 trailing data bytes/);
  assert.throws(() => decodeSafetensors(header({ __metadata__: { a: 1 } })), /__metadata__.a is not a string/);
});
