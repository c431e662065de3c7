import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeGreyscalePng } from './grey-png.js';

test('encodeGreyscalePng: libvips decodes exactly the pixels that were encoded', async () => {
  const pixels = Uint8Array.from({ length: 7 * 5 }, (_, index) => (index * 37) % 256);
  const { data, info } = await sharp(encodeGreyscalePng(pixels, 7, 5))
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [7, 5, 1]);
  assert.deepEqual([...data], [...pixels]);
  assert.throws(() => encodeGreyscalePng(pixels, 6, 5), /6×5 pixels need 30 bytes, got 35/);
});
