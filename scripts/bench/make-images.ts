// Writes an ImageFolder of photo-sized JPEGs (default 1,000 images of 500x375 in 10 classes, like the
// ImageNet-style inputs our loader benchmarks use) with smooth structure plus noise, so their decode cost and
// size (~40-60 KB at quality 90) resemble photographs rather than solid colours.
//
//   npx tsx scripts/bench/make-images.ts <out-dir> [images=1000] [classes=10]
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

const [out, imagesArg = '1000', classesArg = '10'] = process.argv.slice(2);
if (!out) throw new Error('usage: make-images.ts <out-dir> [images] [classes]');
const images = Number(imagesArg);
const classes = Number(classesArg);
const width = 500;
const height = 375;

let state = 12345;
const random = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
};

for (let i = 0; i < images; i += 1) {
  const dir = path.join(out, `class-${String(i % classes).padStart(2, '0')}`);
  await mkdir(dir, { recursive: true });
  const raw = Buffer.alloc(width * height * 3);
  const [fx, fy, phase] = [random() * 0.05, random() * 0.05, random() * 6];
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      const base = Math.sin(x * fx + phase) * Math.cos(y * fy) * 100;
      raw[at] = Math.max(0, Math.min(255, 128 + base + (random() - 0.5) * 40));
      raw[at + 1] = Math.max(0, Math.min(255, 100 + base * 0.6 + (random() - 0.5) * 40));
      raw[at + 2] = Math.max(0, Math.min(255, 90 - base * 0.8 + (random() - 0.5) * 40));
    }
  }
  await sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path.join(dir, `img-${String(i).padStart(5, '0')}.jpg`));
}
process.stderr.write(`wrote ${images} JPEGs of ${width}x${height} in ${classes} classes under ${out}\n`);
