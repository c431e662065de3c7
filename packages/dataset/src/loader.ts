import { open } from 'node:fs/promises';
import os from 'node:os';
import { Piscina } from 'piscina';
import { checkCropPlan, type CropPlanner } from './crop-planner.js';
import type { Manifest, ManifestShard, SplitName } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { seededRandom } from './seeded-random.js';
import { ShardCache, type CacheStats, type CachedShard } from './shard-cache.js';
import type { TransformResult, TransformTask } from './transform-worker.js';

export type Triple = readonly [number, number, number];

export type LoaderOptions = {
  /** The dataset's store (the URI that holds manifest.json). */
  store: ObjectStore;
  manifest: Manifest;
  split: SplitName;
  /** Run seed: with the epoch and the sample index it keys each sample's augmentation. */
  seed: number;
  batchSize: number;
  /** Output side in pixels; batches are NHWC [n, imageSize, imageSize, 3]. */
  imageSize: number;
  mean: Triple;
  std: Triple;
  /** Crop geometry from the model package's transforms. */
  planner: CropPlanner;
  cacheDir: string;
  cacheBytes: number;
  /** Decode threads (default: available cores). */
  threads?: number;
  /** Decodes in flight per thread: sharp decodes on libuv's pool, so a thread can overlap several. */
  tasksPerThread?: number;
  /** Distinct shards downloaded ahead of the batch being decoded. */
  prefetchShards?: number;
  /** Batches decoded ahead of the one being consumed. */
  readyBatches?: number;
};

export type Batch = {
  /** Index of the global step within this plan. */
  step: number;
  /** Samples in the batch after corrupt ones were skipped. */
  count: number;
  /** NHWC float32, count·imageSize·imageSize·3 values, normalised with mean/std. */
  images: Float32Array;
  labels: Int32Array;
  /** Split-local sample indices, aligned with labels. */
  samples: Uint32Array;
};

export type LoaderStats = {
  images: number;
  /** Samples skipped because they failed to decode (exposed as a metric: ringtrain_loader_corrupt_samples_total). */
  corrupt: number;
  /** The first few corrupt samples, for the log. */
  corruptSamples: { sample: number; sourcePath: string; reason: string }[];
  /** Compressed image bytes read from the shard cache. */
  bytesRead: number;
  cache: CacheStats;
  /** Of the shards batches needed, the fraction already cached or being prefetched when asked for. */
  cacheHitRate: number;
};

const corruptSamplesKept = 20;

/**
 * Piscina's thread module. Built (this file runs as dist/loader.js), the compiled transform-worker.js; from the
 * TypeScript sources, an entry that first registers tsx in the thread, which shares none of this thread's hooks.
 */
const TRANSFORM_WORKER_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './transform-worker-entry.mjs' : './transform-worker.js',
  import.meta.url
).href;

/**
 * The worker-side input pipeline: shards prefetched into a local LRU cache, samples decoded and augmented on a
 * pool of worker threads, batches assembled while the previous ones train. One loader lives for a whole run (pool
 * and cache persist); each epoch is driven by its plan.
 */
export class DataLoader {
  private readonly cache: ShardCache;
  private readonly pool: Piscina<TransformTask, TransformResult>;
  private readonly shardStarts: number[];
  private readonly shards: ManifestShard[];
  private readonly counters = { images: 0, corrupt: 0, bytesRead: 0 };
  private readonly corruptSamples: LoaderStats['corruptSamples'] = [];
  /** Batches being decoded, also after a consumer stopped early: close() lets them finish first. */
  private readonly inFlight = new Set<Promise<Batch>>();

  constructor(private readonly options: LoaderOptions) {
    for (const [name, value] of [
      ['batchSize', options.batchSize],
      ['imageSize', options.imageSize]
    ] as const) {
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.shards = options.manifest.splits[options.split].shards;
    this.shardStarts = this.shards.map((shard) => shard.firstSample);
    this.cache = new ShardCache({ store: options.store, dir: options.cacheDir, maxBytes: options.cacheBytes });
    const threads = options.threads ?? os.availableParallelism();
    this.pool = new Piscina<TransformTask, TransformResult>({
      filename: TRANSFORM_WORKER_ENTRY,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: options.tasksPerThread ?? 2
    });
  }

  get stats(): LoaderStats {
    const cache = { ...this.cache.stats };
    const lookups = cache.hits + cache.misses;
    return {
      ...this.counters,
      corruptSamples: [...this.corruptSamples],
      cache,
      cacheHitRate: lookups === 0 ? 0 : cache.hits / lookups
    };
  }

  /** Yields this rank's batches for one epoch's plan (EpochPlan.samples), keeping the next ones ready. */
  async *epoch(samples: Uint32Array, epoch: number): AsyncGenerator<Batch> {
    const { batchSize } = this.options;
    const steps = Math.ceil(samples.length / batchSize);
    const ahead = this.options.readyBatches ?? 2;
    const prefetched = new Set<string>();
    const pending: Promise<Batch>[] = [];
    let next = 0;
    const fill = (): void => {
      while (next < steps && pending.length <= ahead) {
        const step = next++;
        this.prefetchFrom(samples, step * batchSize, prefetched);
        const batch = this.loadBatch(samples.subarray(step * batchSize, (step + 1) * batchSize), epoch, step);
        this.inFlight.add(batch);
        // Errors surface when the batch is awaited below; this only keeps them from being "unhandled" meanwhile.
        batch.then(
          () => this.inFlight.delete(batch),
          () => this.inFlight.delete(batch)
        );
        pending.push(batch);
      }
    };
    fill();
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      fill();
      yield batch;
    }
  }

  /**
   * Stops the decode threads once batches still in flight (decoded ahead for a consumer that stopped early)
   * have finished: destroying the pool under running tasks makes piscina throw from its message handler.
   */
  async close(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.pool.destroy();
  }

  private locate(sample: number): { shard: ManifestShard; local: number } {
    let low = 0;
    let high = this.shardStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.shardStarts[middle]! <= sample) low = middle;
      else high = middle - 1;
    }
    const shard = this.shards[low];
    if (!shard || sample >= shard.firstSample + shard.sampleCount) {
      throw new RangeError(
        `sample ${sample} is outside the ${this.options.split} split: the plan belongs to another manifest`
      );
    }
    return { shard, local: sample - shard.firstSample };
  }

  private prefetchFrom(samples: Uint32Array, start: number, prefetched: Set<string>): void {
    const wanted = this.options.prefetchShards ?? 4;
    const seen = new Set<string>();
    const horizon = Math.min(samples.length, start + 64 * this.options.batchSize);
    for (let i = start; i < horizon && seen.size < wanted; i += 1) {
      const { shard } = this.locate(samples[i]!);
      if (seen.has(shard.key)) continue;
      seen.add(shard.key);
      if (!prefetched.has(shard.key)) {
        prefetched.add(shard.key);
        this.cache.prefetch(shard);
      }
    }
  }

  private async loadBatch(samples: Uint32Array, epoch: number, step: number): Promise<Batch> {
    const { imageSize, mean, std, planner, seed } = this.options;
    const located = Array.from(samples, (sample) => this.locate(sample));
    const needed = [...new Map(located.map(({ shard }) => [shard.key, shard])).values()];
    const pinned = new Map<string, CachedShard>();
    const pixels = imageSize * imageSize * 3;
    const output = new SharedArrayBuffer(samples.length * pixels * 4);
    try {
      // allSettled, not all: every pin taken must be in `pinned` before the finally block releases them.
      const acquired = await Promise.allSettled(
        needed.map(async (shard) => pinned.set(shard.key, await this.cache.acquire(shard)))
      );
      const failed = acquired.find((outcome) => outcome.status === 'rejected');
      if (failed) throw failed.reason;
      const results = await Promise.all(
        located.map(async ({ shard, local }, i) => {
          const cached = pinned.get(shard.key)!;
          const entry = cached.index[local]!;
          const bytes = await readRange(cached.file, entry.offset, entry.length);
          this.counters.bytesRead += bytes.length;
          const random = seededRandom(seed, epoch, samples[i]!);
          const plan = planner(entry.width, entry.height, random.float, imageSize);
          checkCropPlan(plan, entry.width, entry.height, imageSize);
          const result = await this.pool.run(
            { bytes, plan, size: imageSize, mean, std, output, offset: i * pixels },
            { transferList: [bytes.buffer as ArrayBuffer] }
          );
          return { result, label: entry.label, sourcePath: entry.sourcePath };
        })
      );
      // Compact in place over corrupt samples' slots (rare), so the batch stays one dense NHWC block.
      const all = new Float32Array(output);
      const labels = new Int32Array(results.length);
      const kept = new Uint32Array(results.length);
      let count = 0;
      for (const [i, item] of results.entries()) {
        if ('error' in item.result) {
          this.counters.corrupt += 1;
          if (this.corruptSamples.length < corruptSamplesKept)
            this.corruptSamples.push({ sample: samples[i]!, sourcePath: item.sourcePath, reason: item.result.error });
          continue;
        }
        if (count !== i) all.copyWithin(count * pixels, i * pixels, (i + 1) * pixels);
        labels[count] = item.label;
        kept[count] = samples[i]!;
        count += 1;
      }
      const images = all.subarray(0, count * pixels);
      this.counters.images += count;
      return { step, count, images, labels: labels.subarray(0, count), samples: kept.subarray(0, count) };
    } finally {
      for (const cached of pinned.values()) cached.release();
    }
  }
}

async function readRange(file: string, offset: number, length: number): Promise<Uint8Array> {
  // A fresh ArrayBuffer (not Buffer's shared pool) so that it can be transferred to the worker thread.
  const bytes = new Uint8Array(length);
  const handle = await open(file, 'r');
  try {
    const { bytesRead } = await handle.read(bytes, 0, length, offset);
    if (bytesRead !== length)
      throw new Error(`${file} ended after ${bytesRead} of ${length} bytes at offset ${offset}`);
  } finally {
    await handle.close();
  }
  return bytes;
}
