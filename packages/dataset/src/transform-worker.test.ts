import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { CropPlan } from './crop-planner.js';
import { transform, type TransformResult } from './transform-worker.js';

/** Runs one transform into a fresh shared buffer with a float of guard on each side of the slot. */
async function run(
  bytes: Uint8Array,
  size: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  plan: CropPlan = { left: 0, top: 0, width: 16, height: 16, flip: false }
): Promise<{ result: TransformResult; pixels: Float32Array; guards: number[] }> {
  const output = new SharedArrayBuffer((size * size * 3 + 2) * 4);
  const all = new Float32Array(output).fill(-999);
  const result = await transform({ bytes, plan, size, mean, std, output, offset: 1 });
  return { result, pixels: all.subarray(1, 1 + size * size * 3), guards: [all[0]!, all.at(-1)!] };
}

const solid = (r: number, g: number, b: number) =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g, b } } });

describe('transform (decode, crop, resize, normalise)', () => {
  it('turns every colour layout into normalised sRGB with three channels', async () => {
    const cases: [string, Buffer, [number, number, number], number][] = [
      ['RGB JPEG', await solid(200, 100, 50).jpeg({ quality: 100 }).toBuffer(), [200, 100, 50], 3],
      ['greyscale JPEG', await solid(128, 128, 128).greyscale().jpeg({ quality: 100 }).toBuffer(), [128, 128, 128], 3],
      [
        'CMYK JPEG',
        await solid(200, 100, 50).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(),
        [200, 100, 50],
        32
      ],
      ['16-bit PNG', await solid(200, 100, 50).png().toColourspace('rgb16').toBuffer(), [200, 100, 50], 1],
      [
        'PNG with alpha',
        await sharp({
          create: { width: 16, height: 16, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } }
        })
          .png()
          .toBuffer(),
        [10, 200, 30],
        1
      ],
      ['WebP', await solid(20, 40, 220).webp({ lossless: true }).toBuffer(), [20, 40, 220], 1]
    ];
    // Both executors: a crop box (libvips resizes) and a resize-then-crop plan (Pillow's filter in JavaScript).
    const plans: CropPlan[] = [
      { left: 0, top: 0, width: 16, height: 16, flip: false },
      { resizeWidth: 8, resizeHeight: 8, left: 2, top: 2, size: 4 }
    ];
    for (const [[name, bytes, expected, tolerance], plan] of cases.flatMap((entry) =>
      plans.map((plan) => [entry, plan] as const)
    )) {
      const { result, pixels, guards } = await run(bytes, 4, [0.5, 0.5, 0.5], [0.5, 0.25, 0.125], plan);
      assert.deepEqual(result, { ok: true }, name);
      assert.deepEqual(guards, [-999, -999], `${name} wrote outside its slot`);
      assert.ok(
        pixels.every((value) => value !== -999),
        `${name} left part of its slot unwritten`
      );
      const decoded = [0, 1, 2].map((c) => Math.round((pixels[c]! * [0.5, 0.25, 0.125][c]! + 0.5) * 255));
      for (let c = 0; c < 3; c += 1)
        assert.ok(
          Math.abs(decoded[c]! - expected[c]!) <= tolerance,
          `${name} channel ${c}: ${decoded[c]} vs ${expected[c]}`
        );
    }
  });

  it('reports undecodable bytes as an error value rather than throwing', async () => {
    const { result } = await run(new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2, 3]), 4, [0, 0, 0], [1, 1, 1]);
    assert.ok('error' in result && result.error.length > 0);
  });
});
