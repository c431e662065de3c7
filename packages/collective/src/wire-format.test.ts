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
    { numRuns: 20_000 },
  );
});

test('f16 encoding handles ties, subnormals, overflow, infinities and NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00],
    [1e9, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [value, expected] of cases) assert.equal(encodeOne('f16', value), expected, `f16(${value})`);
  assert.equal(encodeOne('f16', NaN) & 0x7e00, 0x7e00);
});

test('bf16 keeps the top 16 bits, rounded to nearest even', () => {
  const bits = new Uint32Array(1);
  const value = new Float32Array(bits.buffer);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (pattern) => {
      bits[0] = pattern;
      if (Number.isNaN(value[0]!)) return;
      const decoded = roundThroughWire('bf16', value[0]!);
      const truncated = (pattern >>> 16) << 16;
      const candidates = [truncated, truncated + 0x10000].map((candidate) => {
        bits[0] = candidate >>> 0;
        return value[0]!;
      });
      bits[0] = pattern;
      const error = Math.abs(decoded - value[0]!);
      const best = Math.min(...candidates.filter(Number.isFinite).map((candidate) => Math.abs(candidate - value[0]!)));
      assert.ok(!Number.isFinite(best) || error <= best, `bf16(${value[0]}) = ${decoded}`);
    }),
    { numRuns: 20_000 },
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
