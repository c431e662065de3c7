import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

/** Distinct solid colours per class, so a decoded sample proves which class's bytes it carries. */
export const classColours: readonly [number, number, number][] = [
  [220, 30, 30],
  [30, 200, 40],
  [40, 60, 230],
  [240, 220, 20]
];

export type FolderSpec = {
  /** class name → number of images */
  classes: Record<string, number>;
  format?: 'jpeg' | 'png' | 'webp';
  width?: number;
  height?: number;
  /** Adds `<first class>/broken.jpg` with truncated JPEG bytes. */
  corrupt?: boolean;
  /** Adds a README.txt beside the images. */
  nonImage?: boolean;
};

export async function imageBytes(
  colour: readonly [number, number, number],
  width: number,
  height: number,
  format: 'jpeg' | 'png' | 'webp'
): Promise<Buffer> {
  const image = sharp({
    create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } }
  });
  if (format === 'png') return image.png().toBuffer();
  if (format === 'webp') return image.webp({ lossless: true }).toBuffer();
  return image.jpeg({ quality: 95 }).toBuffer();
}

/** Writes an ImageFolder tree of generated images and returns its root. */
export async function makeImageFolder(root: string, spec: FolderSpec): Promise<string> {
  const format = spec.format ?? 'jpeg';
  const extension = format === 'jpeg' ? 'jpg' : format;
  for (const [index, [name, count]] of Object.entries(spec.classes).entries()) {
    const dir = path.join(root, name);
    await mkdir(dir, { recursive: true });
    const bytes = await imageBytes(
      classColours[index % classColours.length]!,
      spec.width ?? 40,
      spec.height ?? 30,
      format
    );
    for (let i = 0; i < count; i += 1)
      await writeFile(path.join(dir, `img-${String(i).padStart(3, '0')}.${extension}`), bytes);
  }
  const first = Object.keys(spec.classes)[0]!;
  if (spec.corrupt) {
    const good = await imageBytes([1, 2, 3], 64, 64, 'jpeg');
    await writeFile(path.join(root, first, 'broken.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  }
  if (spec.nonImage) await writeFile(path.join(root, first, 'README.txt'), 'not an image');
  return root;
}
