import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { centerCropPlanner, type CropPlanner } from './crop-planner.js';
import { resizeBilinearWindow } from './pil-bilinear.js';
import { ImageDecodeError, transformImage } from './single-image.js';

const mean = [0.485, 0.456, 0.406] as const;
const std = [0.229, 0.224, 0.225] as const;

/** A 30×10 PNG: red in the left third, green in the middle third, blue in the right third. */
async function stripes(): Promise<Buffer> {
  const pixels = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) pixels[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
  return sharp(pixels, { raw: { width: 30, height: 10, channels: 3 } })
    .png()
    .toBuffer();
}

test('transformImage: the centre crop of the stripes is the green one, normalised with mean/std', async () => {
  const values = await transformImage(await stripes(), { size: 4, planner: centerCropPlanner, mean, std });
  assert.equal(values.length, 4 * 4 * 3);
  const expected = [(0 - mean[0]) / std[0], (1 - mean[1]) / std[1], (0 - mean[2]) / std[2]];
  for (let i = 0; i < values.length; i++)
    assert.ok(Math.abs(values[i]! - expected[i % 3]!) < 1e-5, `value ${i}: ${values[i]}`);
});

test('transformImage: a file that is not an image, and a truncated PNG, are ImageDecodeErrors', async () => {
  await assert.rejects(
    transformImage(Buffer.from('hello, world'), { size: 4, planner: centerCropPlanner, mean, std }),
    ImageDecodeError
  );
  const png = await stripes();
  await assert.rejects(
    transformImage(png.subarray(0, png.length - 20), { size: 4, planner: centerCropPlanner, mean, std }),
    ImageDecodeError
  );
});

test("transformImage: a resize-then-crop plan gives the window of Pillow's bilinear resize of the whole image, normalised", async () => {
  const png = await stripes();
  // 30×10 resized to 12×4 (antialiased), then the 4×4 window at (4, 0): the green third and its blurred edges.
  const planner: CropPlanner = () => ({ resizeWidth: 12, resizeHeight: 4, left: 4, top: 0, size: 4 });
  const values = await transformImage(png, { size: 4, planner, mean, std });
  const raw = await sharp(png).raw().toBuffer();
  const window = resizeBilinearWindow(raw, 30, 10, 3, {
    resizeWidth: 12,
    resizeHeight: 4,
    left: 4,
    top: 0,
    width: 4,
    height: 4
  });
  assert.ok(
    window.some((value) => value !== 0 && value !== 255),
    'the window includes blended edge pixels'
  );
  for (let i = 0; i < values.length; i++) {
    const expected = (window[i]! / 255 - mean[i % 3]!) / std[i % 3]!;
    assert.ok(Math.abs(values[i]! - expected) < 1e-6, `value ${i}: ${values[i]} vs ${expected}`);
  }
});

test('transformImage: a plan for another output size, or outside the resized image, is a RangeError', async () => {
  const png = await stripes();
  const wrongSize: CropPlanner = () => ({ resizeWidth: 12, resizeHeight: 4, left: 0, top: 0, size: 3 });
  await assert.rejects(
    transformImage(png, { size: 4, planner: wrongSize, mean, std }),
    /not a 4x4 window of the resized 30x10 image/
  );
  const outside: CropPlanner = () => ({ resizeWidth: 12, resizeHeight: 4, left: 9, top: 0, size: 4 });
  await assert.rejects(transformImage(png, { size: 4, planner: outside, mean, std }), RangeError);
});
