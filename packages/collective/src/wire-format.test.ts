import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addHalfInto, decodeHalfInto, encodeHalf, roundThroughWire } from './wire-format.js';

/** Every finite f16 value in ascending order, computed from the definition, as the oracle. */
const F16_VALUES = (() => {
  const values: { bits: number; value: number }[] = [];
  for (let bits = 0; bits < 0x7c00; bits += 1) {
    const exponent = bits >>> 10;
    const mantissa = bits & 0x3ff;
    values.push({ bits, value: exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15) });
  }
  return values;
})();

/** Nearest f16 by search, ties to the even bit pattern; overflow past the max+half-ulp → infinity. */
function nearestF16(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude >= 65520) return sign | 0x7c00;
  let low = 0;
  let high = F16_VALUES.length - 1;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (F16_VALUES[middle]!.value <= magnitude) low = middle;
    else high = middle;
  }
  const below = F16_VALUES[low]!;
  const above = F16_VALUES[high]!;
  const toBelow = magnitude - below.value;
  const toAbove = above.value - magnitude;
  if (toBelow < toAbove) return sign | below.bits;
  if (toAbove < toBelow) return sign | above.bits;
  return sign | ((below.bits & 1) === 0 ? below.bits : above.bits);
}

function encodeOne(wire: 'f16' | 'bf16', value: number): number {
  const encoded = new Uint16Array(1);
  encodeHalf(wire, Float32Array.of(value), encoded);
  return encoded[0]!;
}

test('f16 encoding rounds every f32 to the nearest f16, ties to even', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (value) => {
      assert.equal(encodeOne('f16', value), nearestF16(Math.fround(value)), `value ${value}`);
    }),
    { numRuns: 20_000 }
  );
});

test('f16 encoding handles ties, subnormals, overflow, infinities and NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00],
    [1e9, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002],
    [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02]
  ];
  for (const [value, expected] of cases) assert.equal(encodeOne('f16', value), expected, `f16(${value})`);
  assert.equal(encodeOne('f16', NaN) & 0x7e00, 0x7e00);
});

test('bf16 keeps the nearer of the two bf16 values around an f32, ties to even, overflow to infinity', () => {
  const bits = new Uint32Array(1);
  const value = new Float32Array(bits.buffer);
  const valueOf = (pattern: number): number => {
    bits[0] = pattern >>> 0;
    // IEEE rounding measures the step past the largest finite value as if the exponent went on: 2^128.
    return Number.isFinite(value[0]!) ? value[0]! : Math.sign(value[0]!) * 2 ** 128;
  };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (pattern) => {
      bits[0] = pattern;
      const original = value[0]!;
      if (!Number.isFinite(original)) return;
      const lowerBits = pattern >>> 16;
      const lower = valueOf(lowerBits << 16);
      const upper = valueOf((lowerBits + 1) << 16);
      const toLower = Math.abs(original - lower);
      const toUpper = Math.abs(upper - original);
      const expected = toLower < toUpper || (toLower === toUpper && (lowerBits & 1) === 0) ? lowerBits : lowerBits + 1;
      assert.equal(encodeOne('bf16', original), expected & 0xffff, `bf16 of pattern ${pattern.toString(16)}`);
    }),
    { numRuns: 20_000 }
  );
  const overflowTie = new Uint32Array([0x7f7f8000]);
  assert.equal(
    encodeOne('bf16', new Float32Array(overflowTie.buffer)[0]!),
    0x7f80,
    'the tie above the largest bf16 rounds to infinity'
  );
  assert.equal(encodeOne('bf16', 1), 0x3f80);
  assert.equal(encodeOne('bf16', NaN) & 0x7fc0, 0x7fc0);
});

test('decoding and accumulating agree with the scalar rounding', () => {
  const source = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 13) - 8));
  for (const wire of ['f16', 'bf16'] as const) {
    const encoded = new Uint16Array(source.length);
    encodeHalf(wire, source, encoded);
    const decoded = new Float32Array(source.length);
    decodeHalfInto(wire, encoded, decoded);
    const accumulated = new Float32Array(source.length).fill(1);
    addHalfInto(wire, encoded, accumulated);
    for (let i = 0; i < source.length; i += 1) {
      assert.equal(decoded[i], roundThroughWire(wire, source[i]!));
      assert.equal(accumulated[i], Math.fround(1 + decoded[i]!));
    }
  }
});
