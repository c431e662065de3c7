import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { valueSymbol } from 'piscina';
import sharp from 'sharp';
import { transform, type TransformResult } from './transform-worker.js';

/** Outside a pool, transform returns piscina's "moved" wrapper; the pool unwraps it the same way. */
function unwrap(result: TransformResult): TransformResult {
  return ((result as unknown as Record<symbol, TransformResult | undefined>)[valueSymbol] ?? result) as TransformResult;
}

const solid = (r: number, g: number, b: number) => sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g, b } } });
const whole = { left: 0, top: 0, width: 16, height: 16, flip: false };

describe('transform (decode, crop, resize, normalise)', () => {
  it('turns every colour layout into normalised sRGB with three channels', async () => {
    const cases: [string, Buffer, [number, number, number], number][] = [
      ['RGB JPEG', await solid(200, 100, 50).jpeg({ quality: 100 }).toBuffer(), [200, 100, 50], 3],
      ['greyscale JPEG', await solid(128, 128, 128).greyscale().jpeg({ quality: 100 }).toBuffer(), [128, 128, 128], 3],
      ['CMYK JPEG', await solid(200, 100, 50).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(), [200, 100, 50], 32],
      ['16-bit PNG', await solid(200, 100, 50).png().toColourspace('rgb16').toBuffer(), [200, 100, 50], 1],
      ['PNG with alpha', await sharp({ create: { width: 16, height: 16, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toBuffer(), [10, 200, 30], 1],
      ['WebP', await solid(20, 40, 220).webp({ lossless: true }).toBuffer(), [20, 40, 220], 1],
    ];
    for (const [name, bytes, expected, tolerance] of cases) {
      const result = unwrap(await transform({ bytes, box: whole, size: 4, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.125] }));
      assert.ok(result instanceof Float32Array, `${name}: ${JSON.stringify(result)}`);
      assert.equal(result.length, 4 * 4 * 3);
      const decoded = [0, 1, 2].map((c) => Math.round((result[c]! * [0.5, 0.25, 0.125][c]! + 0.5) * 255));
      for (let c = 0; c < 3; c += 1) assert.ok(Math.abs(decoded[c]! - expected[c]!) <= tolerance, `${name} channel ${c}: ${decoded[c]} vs ${expected[c]}`);
    }
  });

  it('reports undecodable bytes as an error value rather than throwing', async () => {
    const result = unwrap(await transform({ bytes: new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2, 3]), box: whole, size: 4, mean: [0, 0, 0], std: [1, 1, 1] }));
    assert.ok(!(result instanceof Float32Array) && /./.test(result.error));
  });
});
