import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { centerCropPlanner } from './crop-planner.js';
import { ImageDecodeError, transformImage } from './single-image.js';

const mean = [0.485, 0.456, 0.406] as const;
const std = [0.229, 0.224, 0.225] as const;

/** A 30×10 PNG: red in the left third, green in the middle third, blue in the right third. */
async function stripes(): Promise<Buffer> {
  const pixels = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) pixels[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
  return sharp(pixels, { raw: { width: 30, height: 10, channels: 3 } }).png().toBuffer();
}

test('transformImage: the centre crop of the stripes is the green one, normalised with mean/std', async () => {
  const values = await transformImage(await stripes(), { size: 4, planner: centerCropPlanner, mean, std });
  assert.equal(values.length, 4 * 4 * 3);
  const expected = [(0 - mean[0]) / std[0], (1 - mean[1]) / std[1], (0 - mean[2]) / std[2]];
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(values[i]! - expected[i % 3]!) < 1e-5, `value ${i}: ${values[i]}`);
});

test('transformImage: a file that is not an image, and a truncated PNG, are ImageDecodeErrors', async () => {
  await assert.rejects(transformImage(Buffer.from('hello, world'), { size: 4, planner: centerCropPlanner, mean, std }), ImageDecodeError);
  const png = await stripes();
  await assert.rejects(transformImage(png.subarray(0, png.length - 20), { size: 4, planner: centerCropPlanner, mean, std }), ImageDecodeError);
});
