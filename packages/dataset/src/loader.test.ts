import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { centerCropPlanner, type CropPlanner } from './crop-planner.js';
import { planEpoch } from './epoch-plan.js';
import { FileStore } from './file-store.js';
import { ingest } from './ingest.js';
import { DataLoader, type Batch, type LoaderOptions } from './loader.js';
import { manifestFormatVersion, shardSampleCounts, type Manifest } from './manifest.js';
import { encodeShard } from './shard-format.js';
import { createHash } from 'node:crypto';
import { classColours, imageBytes, makeImageFolder } from './test-images.test-helper.js';
import { transformImage } from './single-image.js';

const identity = { mean: [0, 0, 0] as const, std: [1, 1, 1] as const };

async function collect(loader: DataLoader, samples: Uint32Array, epoch = 0): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(samples, epoch)) batches.push(batch);
  return batches;
}

describe('DataLoader', () => {
  let work = '';
  let store: FileStore;
  let manifest: Manifest;
  const loaders: DataLoader[] = [];
  const make = (overrides: Partial<LoaderOptions> = {}): DataLoader => {
    const loader = new DataLoader({
      store,
      manifest,
      split: 'train',
      seed: 9,
      batchSize: 4,
      imageSize: 8,
      ...identity,
      planner: centerCropPlanner,
      cacheDir: path.join(work, `cache-${loaders.length}`),
      cacheBytes: 1 << 30,
      threads: 1,
      ...overrides
    });
    loaders.push(loader);
    return loader;
  };

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-loader-'));
    const source = await makeImageFolder(path.join(work, 'src'), {
      classes: { red: 7, green: 6, blue: 5 },
      width: 24,
      height: 16
    });
    store = new FileStore(path.join(work, 'data'));
    manifest = (await ingest({ source, to: 'unused', store, valFraction: 0, seed: 1, shardSizeBytes: 1_200 })).manifest;
  });
  after(async () => {
    await Promise.all(loaders.map((loader) => loader.close()));
    await rm(work, { recursive: true, force: true });
  });

  it('yields NHWC float batches in plan order whose pixels match their labels', async () => {
    const plan = planEpoch({
      shardSampleCounts: shardSampleCounts(manifest.splits.train),
      seed: 1,
      epoch: 0,
      worldSize: 1,
      rank: 0,
      batchSize: 4,
      samplesConsumed: 0,
      remainder: 'drop',
      partitions: 2
    });
    const loader = make();
    const batches = await collect(loader, plan.samples);
    assert.deepEqual(
      batches.map((batch) => batch.count),
      [4, 4, 4, 4, 2]
    );
    assert.deepEqual(Uint32Array.from(batches.flatMap((batch) => [...batch.samples])), plan.samples);
    for (const batch of batches) {
      assert.equal(batch.images.length, batch.count * 8 * 8 * 3);
      for (let i = 0; i < batch.count; i += 1) {
        const colour = classColours[['red', 'green', 'blue'].indexOf(manifest.classes[batch.labels[i]!]!)]!;
        const centre = i * 192 + (4 * 8 + 4) * 3;
        for (let c = 0; c < 3; c += 1)
          assert.ok(
            Math.abs(batch.images[centre + c]! * 255 - colour[c]!) < 8,
            `sample ${batch.samples[i]} channel ${c}`
          );
      }
    }
    assert.equal(loader.stats.images, 18);
    assert.equal(loader.stats.corrupt, 0);
    // Every shard was downloaded once, always ahead of the batch that needed it.
    assert.equal(
      loader.stats.cache.bytesDownloaded,
      manifest.splits.train.shards.reduce((sum, shard) => sum + shard.bytes, 0)
    );
    assert.equal(loader.stats.cacheHitRate, 1);
  });

  it('reproduces augmentation per (seed, epoch, sample), so a resumed epoch decodes the same pixels', async () => {
    const randomPlanner: CropPlanner = (width, height, random) => {
      const side = 4 + Math.floor(random() * 8);
      return {
        left: Math.floor(random() * (width - side)),
        top: Math.floor(random() * (height - side)),
        width: side,
        height: side,
        flip: random() < 0.5
      };
    };
    // Gradients, so that different crops and flips give different pixels.
    const gradients = await datasetOf(
      path.join(work, 'gradients'),
      await Promise.all(
        Array.from({ length: 8 }, async (_, k) => {
          const raw = Buffer.from(
            Array.from({ length: 24 * 16 * 3 }, (_, i) => ((i % 72) * 3 + Math.floor(i / 72) * 5 + k * 29) % 256)
          );
          return {
            label: k % 2,
            bytes: await sharp(raw, { raw: { width: 24, height: 16, channels: 3 } })
              .png()
              .toBuffer(),
            width: 24,
            height: 16
          };
        })
      )
    );
    const samples = Uint32Array.from([3, 1, 4, 7, 0, 2, 6, 5]);
    const options = { ...gradients, planner: randomPlanner };
    const whole = (await collect(make(options), samples, 2)).flatMap((batch) => [...batch.images]);
    const resumed = (await collect(make(options), samples.subarray(4), 2)).flatMap((batch) => [...batch.images]);
    assert.deepEqual(resumed, whole.slice(whole.length / 2));
    const otherEpoch = (await collect(make(options), samples, 3)).flatMap((batch) => [...batch.images]);
    assert.notDeepEqual(otherEpoch, whole);
  });

  it('flips horizontally when the planner asks', async () => {
    const dir = path.join(work, 'halves');
    const left = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .png()
      .toBuffer();
    const right = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .png()
      .toBuffer();
    const image = await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .composite([
        { input: left, left: 0, top: 0 },
        { input: right, left: 8, top: 0 }
      ])
      .png()
      .toBuffer();
    const halves = await datasetOf(dir, [{ label: 0, bytes: image, width: 16, height: 8 }]);
    const planner =
      (flip: boolean): CropPlanner =>
      () => ({ left: 0, top: 0, width: 16, height: 8, flip });
    const [plain] = await collect(make({ ...halves, planner: planner(false), imageSize: 4 }), Uint32Array.of(0));
    const [flipped] = await collect(make({ ...halves, planner: planner(true), imageSize: 4 }), Uint32Array.of(0));
    // Top-left pixel: red unflipped, blue flipped.
    assert.deepEqual(
      [...plain!.images.subarray(0, 3)].map((v) => Math.round(v * 255)),
      [255, 0, 0]
    );
    assert.deepEqual(
      [...flipped!.images.subarray(0, 3)].map((v) => Math.round(v * 255)),
      [0, 0, 255]
    );
  });

  it('executes a resize-then-crop plan (the eval transform) with the pixels transformImage gives the same file', async () => {
    const dir = path.join(work, 'resize-crop');
    const pixels = Buffer.from(Array.from({ length: 21 * 13 * 3 }, (_, i) => (i * 37) % 256));
    const bytes = await sharp(pixels, { raw: { width: 21, height: 13, channels: 3 } })
      .png()
      .toBuffer();
    const dataset = await datasetOf(dir, [{ label: 0, bytes, width: 21, height: 13 }]);
    const sizes: number[] = [];
    const planner: CropPlanner = (width, height, _random, size) => {
      sizes.push(size);
      return { resizeWidth: Math.trunc((9 * width) / height), resizeHeight: 9, left: 2, top: 1, size };
    };
    const [batch] = await collect(make({ ...dataset, planner, imageSize: 8 }), Uint32Array.of(0));
    assert.deepEqual(sizes, [8], 'the planner is told the output size');
    assert.deepEqual(batch!.images, await transformImage(bytes, { size: 8, planner, ...identity }));
  });

  it('skips and counts a corrupt sample without failing the batch, and gives greyscale images three channels', async () => {
    const dir = path.join(work, 'mixed');
    const good = await imageBytes([10, 20, 30], 8, 8, 'jpeg');
    const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .greyscale()
      .png()
      .toBuffer();
    const garbage = Buffer.concat([good.subarray(0, 20), Buffer.alloc(200, 7)]);
    const mixed = await datasetOf(dir, [
      { label: 0, bytes: good, width: 8, height: 8 },
      { label: 1, bytes: garbage, width: 8, height: 8 },
      { label: 0, bytes: grey, width: 8, height: 8 }
    ]);
    const loader = make({
      ...mixed,
      imageSize: 4,
      ...{ mean: [0.5, 0.5, 0.5] as const, std: [0.25, 0.25, 0.25] as const }
    });
    const [batch] = await collect(loader, Uint32Array.of(0, 1, 2));
    assert.equal(batch!.count, 2);
    assert.deepEqual([...batch!.samples], [0, 2]);
    assert.equal(loader.stats.corrupt, 1);
    assert.equal(loader.stats.corruptSamples[0]!.sourcePath, 'sample-1');
    // (128/255 - 0.5) / 0.25 ≈ 0.008 on every channel of the grey image.
    for (const value of batch!.images.subarray(48, 51)) assert.ok(Math.abs(value - (128 / 255 - 0.5) / 0.25) < 0.02);
  });

  it('closes cleanly when the consumer stops while later batches are still being decoded', async () => {
    // Noisy 600x400 JPEGs take milliseconds each to decode, so later batches are still running at close().
    const noisy = await datasetOf(
      path.join(work, 'noisy'),
      await Promise.all(
        Array.from({ length: 48 }, async (_, k) => {
          const raw = Buffer.from(Array.from({ length: 600 * 400 * 3 }, (_, i) => (i * 7919 + k * 104729) % 251));
          return {
            label: 0,
            bytes: await sharp(raw, { raw: { width: 600, height: 400, channels: 3 } })
              .jpeg()
              .toBuffer(),
            width: 600,
            height: 400
          };
        })
      )
    );
    const loader = new DataLoader({
      ...noisy,
      split: 'train',
      seed: 9,
      batchSize: 8,
      imageSize: 224,
      ...identity,
      planner: centerCropPlanner,
      cacheDir: path.join(work, 'cache-early-stop'),
      cacheBytes: 1 << 30,
      threads: 2,
      readyBatches: 4
    });
    for await (const batch of loader.epoch(
      Uint32Array.from({ length: 96 }, (_, i) => i % 48),
      0
    )) {
      assert.equal(batch.count, 8);
      break;
    }
    await loader.close();
    // close() waited for the batch consumed and the five started ahead of it (readyBatches 4, plus the one
    // refilled as it was handed over) rather than killing threads under them; the other six never started.
    assert.equal(loader.stats.images, 6 * 8);
  });

  it('evicts beyond its byte limit and still serves every sample', async () => {
    const loader = make({ cacheBytes: manifest.splits.train.shards[0]!.bytes * 2, prefetchShards: 1, readyBatches: 0 });
    const samples = Uint32Array.from({ length: manifest.splits.train.count }, (_, i) => i);
    const batches = await collect(loader, samples);
    assert.equal(
      batches.reduce((sum, batch) => sum + batch.count, 0),
      samples.length
    );
    assert.ok(loader.stats.cache.evictions > 0);
  });

  it('re-downloads a shard whose bytes fail the checksum once, and gives up with a clear error the second time', async () => {
    const shard = manifest.splits.train.shards[0]!;
    let damagedReads = 1;
    const flaky = Object.assign(Object.create(store) as FileStore, {
      getStream: async (key: string): Promise<Readable> => {
        if (damagedReads-- > 0) {
          const bytes = await store.get(key);
          bytes[bytes.length - 1]! ^= 0xff;
          const { Readable: ReadableClass } = await import('node:stream');
          return ReadableClass.from([bytes]);
        }
        return store.getStream(key);
      }
    });
    const recovering = make({ store: flaky });
    await collect(recovering, Uint32Array.of(0));
    assert.equal(recovering.stats.cache.redownloads, 1);

    const tampered = path.join(work, 'data', shard.key);
    const original = await readFile(tampered);
    await writeFile(tampered, Buffer.concat([original.subarray(0, -1), Buffer.of(original.at(-1)! ^ 0xff)]));
    try {
      await assert.rejects(collect(make(), Uint32Array.of(0)), /failed its checksum twice .*re-run ingest/);
    } finally {
      await writeFile(tampered, original);
    }
  });
});

/** A one-shard dataset written by hand, for bytes that ingest would refuse (corrupt) or shapes it would not make. */
async function datasetOf(
  dir: string,
  samples: { label: number; bytes: Buffer; width: number; height: number }[]
): Promise<Pick<LoaderOptions, 'store' | 'manifest'>> {
  const store = new FileStore(dir);
  const shard = encodeShard(samples.map((sample, i) => ({ ...sample, sourcePath: `sample-${i}` })));
  await store.put('train/shard-00000.rtshard', shard);
  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    classes: ['a', 'b'],
    splits: {
      train: {
        count: samples.length,
        classCounts: [0, 0],
        shards: [
          {
            key: 'train/shard-00000.rtshard',
            firstSample: 0,
            sampleCount: samples.length,
            bytes: shard.length,
            sha256: createHash('sha256').update(shard).digest('hex')
          }
        ]
      },
      val: { count: 0, classCounts: [0, 0], shards: [] }
    },
    ingest: { seed: 0, valFraction: 0, maxResolution: null, shardSizeBytes: 1, corrupt: [] }
  };
  return { store, manifest };
}
