import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DataLoader, FileStore, ingest, transformImage } from '@ringtrain/dataset';
import { decodeSafetensors, initBackend, type SafetensorsFile } from '@ringtrain/model';
import { EVAL_PIPELINE, loadTrainedModel, predictFiles } from './inference.js';

const backend = await initBackend({ log: () => {} });

/**
 * Parity with torchvision from image files: scripts/parity/make-eval-image-fixture.py (Debian's python3-torch
 * and python3-torchvision, installed by scripts/install-python-reference.sh) runs ImageFolder's loader,
 * Resize(int(size·256/224)) + CenterCrop(size) + ToTensor + Normalize and a resnet18 on PNG and JPEG files, and
 * this test runs `ringtrain predict`'s path (loadTrainedModel + predictFiles) on the same files and weights (a
 * state dict without num_batches_tracked, as many exported checkpoints come). Fixtures are cached under
 * .cache/parity/ (gitignored), keyed by the scripts' hash.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPTS = [`${ROOT}scripts/parity/make-eval-image-fixture.py`, `${ROOT}scripts/parity/fixture_io.py`];
const IMAGE_SIZE = 224;
const IMAGES = ['landscape.png', 'portrait.jpg', 'small.png', 'grey.png'];

/**
 * The transform's output: Pillow's resize is reproduced byte for byte (pil-bilinear.ts in @ringtrain/dataset),
 * JPEG decoding agrees too (libvips' mozjpeg and Pillow's libjpeg-turbo), so what is left is float32 rounding in
 * the normalisation (≤ 1 ulp of values up to 2.7). Measured: 4.8e-7.
 */
const PIXEL_TOLERANCE = 1e-6;
/**
 * Eval-mode logits: max |ours − torch| / max |torch| per image, the model parity test's bar. Measured: 6e-7 to
 * 1.7e-6 on the tensorflow, wasm and cpu backends. For comparison, resizing with libvips' closest kernel
 * ('linear') instead gave 5.6e-4 to 9.2e-4 on the downscaled images and 1.4e-2 on the upscaled one.
 */
const LOGIT_TOLERANCE = 1e-4;

function fixture(): { dir: string; expected: SafetensorsFile } {
  const hash = createHash('sha256');
  for (const script of SCRIPTS) hash.update(readFileSync(script));
  const key = hash.update(String(IMAGE_SIZE)).digest('hex').slice(0, 16);
  const dir = `${ROOT}.cache/parity/eval-images-${key}`;
  if (!existsSync(`${dir}/expected.safetensors`)) {
    try {
      execFileSync('/usr/bin/python3', [SCRIPTS[0]!, '--out', dir, '--image-size', String(IMAGE_SIZE)], {
        stdio: ['ignore', 'ignore', 'pipe']
      });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(
        `the PyTorch reference could not run (${stderr.trim().split('\n').at(-1)}); install it with scripts/install-python-reference.sh`
      );
    }
  }
  return { dir, expected: decodeSafetensors(readFileSync(`${dir}/expected.safetensors`)) };
}

const { dir, expected } = fixture();
const reference = (name: string): Float32Array => {
  const tensor = expected.tensors.get(name)!;
  return new Float32Array(new Uint8Array(tensor.data).buffer);
};

function maxAbsDifference(actual: ArrayLike<number>, wanted: Float32Array): number {
  assert.equal(actual.length, wanted.length);
  let worst = 0;
  for (let i = 0; i < wanted.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - wanted[i]!));
  return worst;
}

describe(`torchvision's eval transform and resnet18 on image files (${backend.name})`, () => {
  const work: string[] = [];
  after(() => Promise.all(work.map((folder) => rm(folder, { recursive: true, force: true }))));

  it("predict's transform gives torchvision's pixels: Resize + CenterCrop with Pillow's bilinear filter", async (t) => {
    for (const name of IMAGES) {
      const pixels = await transformImage(readFileSync(path.join(dir, name)), { size: IMAGE_SIZE, ...EVAL_PIPELINE });
      const error = maxAbsDifference(pixels, reference(`pixels.${name}`));
      t.diagnostic(`${name}: pixels within ${error.toExponential(2)}`);
      assert.ok(error < PIXEL_TOLERANCE, `${name}: pixels differ by up to ${error}`);
    }
  });

  it(`predict's logits on the files agree with torchvision's within ${LOGIT_TOLERANCE} relative`, async (t) => {
    const trained = await loadTrainedModel(path.join(dir, 'weights.safetensors'));
    const files = IMAGES.map((name) => ({ name, bytes: readFileSync(path.join(dir, name)) }));
    const predictions = await predictFiles(trained, files, { topK: 1, imageSize: IMAGE_SIZE, logits: true });
    trained.model.dispose();
    for (const [index, name] of IMAGES.entries()) {
      const wanted = reference(`logits.${name}`);
      const error = maxAbsDifference(predictions[index]!.logits!, wanted) / Math.max(...wanted.map(Math.abs));
      t.diagnostic(`${name}: logits within ${error.toExponential(2)} relative`);
      assert.ok(error < LOGIT_TOLERANCE, `${name}: logits differ by ${error.toExponential(2)} relative`);
    }
  });

  it('the loader (validation during training, and eval) gives the same pixels from an ingested dataset', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-eval-parity-'));
    work.push(folder);
    await mkdir(path.join(folder, 'images', 'all'), { recursive: true });
    await Promise.all(IMAGES.map((name) => copyFile(path.join(dir, name), path.join(folder, 'images', 'all', name))));
    const store = new FileStore(path.join(folder, 'dataset'));
    const { manifest } = await ingest({
      source: path.join(folder, 'images'),
      to: 'unused',
      store,
      valFraction: 0,
      seed: 1
    });
    const loader = new DataLoader({
      store,
      manifest,
      split: 'train',
      seed: 0,
      batchSize: IMAGES.length,
      imageSize: IMAGE_SIZE,
      ...EVAL_PIPELINE,
      cacheDir: path.join(folder, 'cache'),
      cacheBytes: 1 << 30,
      threads: 1
    });
    try {
      // The batch does not name its files: each image must match one reference, and each reference one image.
      const pixels = IMAGE_SIZE * IMAGE_SIZE * 3;
      const matched: string[] = [];
      for await (const batch of loader.epoch(Uint32Array.from(IMAGES.keys()), 0)) {
        for (let i = 0; i < batch.count; i++) {
          const image = batch.images.subarray(i * pixels, (i + 1) * pixels);
          const [error, name] = IMAGES.map(
            (name) => [maxAbsDifference(image, reference(`pixels.${name}`)), name] as const
          ).sort((a, b) => a[0] - b[0])[0]!;
          assert.ok(
            error < PIXEL_TOLERANCE,
            `sample ${batch.samples[i]}: closest to ${name}, but its pixels differ by up to ${error}`
          );
          matched.push(name);
        }
      }
      assert.deepEqual(matched.sort(), [...IMAGES].sort());
    } finally {
      await loader.close();
    }
  });
});
