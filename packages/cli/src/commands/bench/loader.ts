import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../../options.js';
import { byteSize } from '../ingest/run.js';

const schema = z.object({
  data: z.string().min(1),
  split: z.enum(['train', 'val']),
  imageSize: z.coerce.number().int().min(8),
  threads: z.coerce.number().int().min(1),
  inFlight: z.coerce.number().int().min(1),
  batchSize: z.coerce.number().int().min(1),
  batches: z.coerce.number().int().min(1).optional(),
  warmupBatches: z.coerce.number().int().min(0),
  cacheDir: z.string().min(1),
  cacheSize: byteSize,
  json: z.boolean().optional()
});

/**
 * `ringtrain bench loader`: images/s of the loader doing what training does — shard reads through the cache,
 * decode, torchvision's RandomResizedCrop + flip (the model package's planner), normalise, NHWC batching.
 */
export function loaderBenchCommand(): Command {
  return new Command('loader')
    .description(
      'images/s of decode + train transforms + batching from a dataset; --json prints {imagesPerSec, bytesPerSec, cacheHitRate}'
    )
    .requiredOption('--data <uri>', 'dataset URI (s3://bucket/prefix, file:///dir or a local path)')
    .option('--split <split>', 'train or val', 'train')
    .option('--image-size <px>', 'output side', '224')
    .option('--threads <n>', 'decode threads', String(os.availableParallelism()))
    .option('--in-flight <n>', 'decodes in flight per thread (sharp decodes on libuv threads, so they overlap)', '2')
    .option('--batch-size <n>', 'images per batch', '32')
    .option('--batches <n>', 'timed batches (default: the rest of one epoch)')
    .option('--warmup-batches <n>', 'batches before the clock starts (thread start-up)', '2')
    .option('--cache-dir <dir>', 'shard cache directory', path.join(os.tmpdir(), 'ringtrain-bench-cache'))
    .option('--cache-size <size>', 'shard cache limit', '4GiB')
    .option('--json', 'print one JSON object on stdout')
    .action(async (raw: Record<string, unknown>) => {
      const options = parseOptions(schema, raw);
      const { DataLoader, loadManifest, openStore, planEpoch, shardSampleCounts } = await import('@ringtrain/dataset');
      const { IMAGENET_MEAN, IMAGENET_STD, planRandomResizedCrop } = await import('@ringtrain/model');
      const store = openStore(options.data);
      const { manifest } = await loadManifest(store);
      const split = manifest.splits[options.split];
      const plan = planEpoch({
        shardSampleCounts: shardSampleCounts(split),
        seed: 0,
        epoch: 0,
        worldSize: 1,
        rank: 0,
        batchSize: options.batchSize,
        samplesConsumed: 0,
        remainder: 'drop',
        partitions: 1
      });
      const loader = new DataLoader({
        store,
        manifest,
        split: options.split,
        seed: 0,
        batchSize: options.batchSize,
        imageSize: options.imageSize,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        threads: options.threads,
        tasksPerThread: options.inFlight,
        cacheDir: options.cacheDir,
        cacheBytes: options.cacheSize,
        planner: (width, height, random) => planRandomResizedCrop(width, height, { uniform: random })
      });
      let images = 0;
      let bytesAtStart = 0;
      let started = 0;
      let batches = 0;
      try {
        for await (const batch of loader.epoch(plan.samples, 0)) {
          batches += 1;
          if (batches === options.warmupBatches) {
            started = performance.now();
            bytesAtStart = loader.stats.bytesRead;
            continue;
          }
          if (batches < options.warmupBatches) continue;
          if (started === 0) started = performance.now();
          images += batch.count;
          if (options.batches !== undefined && batches - options.warmupBatches >= options.batches) break;
        }
      } finally {
        await loader.close();
      }
      const seconds = (performance.now() - started) / 1000;
      const stats = loader.stats;
      const result = {
        imagesPerSec: images / seconds,
        bytesPerSec: (stats.bytesRead - bytesAtStart) / seconds,
        cacheHitRate: stats.cacheHitRate,
        images,
        seconds,
        threads: options.threads,
        inFlight: options.inFlight,
        imageSize: options.imageSize,
        batchSize: options.batchSize,
        corrupt: stats.corrupt
      };
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else
        process.stdout.write(
          `loader: ${result.imagesPerSec.toFixed(1)} images/s, ${(result.bytesPerSec / 2 ** 20).toFixed(1)} MiB/s, cache hit rate ${(result.cacheHitRate * 100).toFixed(0)}% (${images} images, ${options.threads} threads)\n`
        );
    });
}
