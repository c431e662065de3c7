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
  const tensorArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      values: fc.float32Array({
        minLength: shape.reduce((a, b) => a * b, 1),
        maxLength: shape.reduce((a, b) => a * b, 1)
      })
    })
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(
          fc.string({ minLength: 1 }).filter((s) => s !== '__metadata__'),
          tensorArb
        ),
        { selector: ([name]) => name, maxLength: 5 }
      ),
      fc.dictionary(fc.string(), fc.string()),
      (entries, metadata) => {
        const tensors = entries.map(([name, t]): [string, RawTensor] => [
          name,
          { dtype: 'F32', shape: t.shape, data: float32Bytes(t.values) }
        ]);
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
      }
    ),
    { numRuns: 50 }
  );
});

test('reads tensors out of a Node Buffer, as readFileSync returns them', () => {
  const bytes = encodeSafetensors([
    ['a', { dtype: 'F32', shape: [2], data: float32Bytes(Float32Array.of(1, 2)) }],
    ['b', { dtype: 'F32', shape: [1], data: float32Bytes(Float32Array.of(3)) }]
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
        n: { dtype: 'I64', shape: [], data_offsets: [8, 16] }
      },
      data
    )
  );
  assert.deepEqual([...toFloat32('h', file.tensors.get('h')!)], [1, -2]);
  assert.deepEqual([...toFloat32('b', file.tensors.get('b')!)], [1, -2]);
  assert.deepEqual([...toFloat32('n', file.tensors.get('n')!)], [7]);
});

/** One tensor of `dtype` holding the given 16-bit patterns (little-endian), decoded back to float32. */
function decode16(dtype: 'F16' | 'BF16', patterns: readonly number[]): Float32Array {
  const data = new Uint8Array(patterns.length * 2);
  patterns.forEach((bits, i) => new DataView(data.buffer).setUint16(i * 2, bits, true));
  const file = decodeSafetensors(encodeSafetensors([['t', { dtype, shape: [patterns.length], data }]]));
  return toFloat32('t', file.tensors.get('t')!);
}

const float32Bits = (value: number): number => new Uint32Array(Float32Array.of(value).buffer)[0]!;

test('F16 converts exactly: known values, subnormals, signed zero, infinities and NaN', () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x0000, 0],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x7e00, NaN],
    [0x7c01, NaN],
    [0xfe00, NaN]
  ];
  const values = decode16(
    'F16',
    cases.map(([bits]) => bits)
  );
  cases.forEach(([bits, expected], i) =>
    assert.ok(Object.is(values[i], expected), `0x${bits.toString(16)} → ${values[i]}, expected ${expected}`)
  );
});

test('F16 → F32 is exact for all 65536 patterns (against the bit-level construction of the same float)', () => {
  const values = decode16(
    'F16',
    Array.from({ length: 65536 }, (_, bits) => bits)
  );
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits >> 15;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    const value = values[bits]!;
    if (exponent === 0x1f)
      assert.ok(
        fraction === 0 ? value === (sign ? -Infinity : Infinity) : Number.isNaN(value),
        `0x${bits.toString(16)}`
      );
    else if (exponent === 0)
      assert.ok(Object.is(value, (sign ? -1 : 1) * fraction * 2 ** -24), `subnormal 0x${bits.toString(16)}`);
    else
      assert.equal(
        float32Bits(value),
        ((sign << 31) | ((exponent + 112) << 23) | (fraction << 13)) >>> 0,
        `0x${bits.toString(16)}`
      );
  }
});

test('BF16 converts exactly: its bits are the top half of the float32 for all 65536 patterns', () => {
  const cases: [number, number][] = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x3eab, 0.333984375],
    [0x7f7f, 3.3895313892515355e38],
    [0x0001, 2 ** -133],
    [0x8000, -0],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x7fc0, NaN],
    [0xffc1, NaN]
  ];
  const known = decode16(
    'BF16',
    cases.map(([bits]) => bits)
  );
  cases.forEach(([bits, expected], i) =>
    assert.ok(Object.is(known[i], expected), `0x${bits.toString(16)} → ${known[i]}, expected ${expected}`)
  );
  const values = decode16(
    'BF16',
    Array.from({ length: 65536 }, (_, bits) => bits)
  );
  for (let bits = 0; bits < 65536; bits++) {
    const nan = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0;
    if (nan) assert.ok(Number.isNaN(values[bits]), `0x${bits.toString(16)}`);
    else assert.equal(float32Bits(values[bits]!), (bits << 16) >>> 0, `0x${bits.toString(16)}`);
  }
});

test('F64 rounds to the nearest float32', () => {
  const data = new Uint8Array(16);
  new DataView(data.buffer).setFloat64(0, 1 / 3, true);
  new DataView(data.buffer).setFloat64(8, -0.1, true);
  const file = decodeSafetensors(encodeSafetensors([['t', { dtype: 'F64', shape: [2], data }]]));
  assert.deepEqual([...toFloat32('t', file.tensors.get('t')!)], [Math.fround(1 / 3), Math.fround(-0.1)]);
});

test('rejects malformed files with a message naming the problem', () => {
  assert.throws(() => decodeSafetensors(new Uint8Array(4)), /shorter than the 8-byte header length/);
  const tooLong = new Uint8Array(16);
  new DataView(tooLong.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => decodeSafetensors(tooLong), /header length 1000 exceeds the file/);
  assert.throws(
    () => decodeSafetensors(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4))),
    /a: data ends at 8, past the file's 4 data bytes/
  );
  assert.throws(
    () => decodeSafetensors(header({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /a: 8 bytes for F32\[3\] \(expected 12\)/
  );
  assert.throws(
    () => decodeSafetensors(header({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /a: unsupported dtype "C64"/
  );
  assert.throws(
    () =>
      decodeSafetensors(
        header(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
            b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }
          },
          new Uint8Array(12)
        )
      ),
    /b: data starts at 8, expected 4 \(gap or overlap\)/
  );
  assert.throws(
    () => decodeSafetensors(header({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(3))),
    /2 trailing data bytes/
  );
  assert.throws(() => decodeSafetensors(header({ __metadata__: { a: 1 } })), /__metadata__.a is not a string/);
});
