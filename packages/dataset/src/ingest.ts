import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { chooseDecodeConcurrency } from './decode-concurrency.js';
import {
  manifestFormatVersion,
  manifestKey,
  type Manifest,
  type ManifestShard,
  type ManifestSplit,
  type SplitName
} from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { openStore, type OpenStoreOptions } from './open-store.js';
import { prepareImage } from './prepare-image.js';
import { encodeShard, type ShardSample } from './shard-format.js';
import { scanSource, type SourceItem } from './source-scan.js';
import { stratifiedSplit } from './stratified-split.js';

export type IngestOptions = {
  /**
   * An ImageFolder directory or a .csv/.jsonl manifest of path,label rows: a local path, or a store URI
   * (`s3://bucket/prefix` laid out as `<prefix>/<class>/<image>`, `s3://bucket/raw/labels.csv`, `file:///dir`).
   */
  source: string;
  /** Dataset URI: s3://bucket/prefix, file:///dir or a local path. */
  to: string;
  valFraction?: number;
  seed?: number;
  shardSizeBytes?: number;
  /** Downscale images whose longer side exceeds this many pixels. */
  maxResolution?: number;
  /** Images read and decoded at once (default: 2 per CPU of the cgroup's quota, within its memory limit: chooseDecodeConcurrency). */
  decodeConcurrency?: number;
  /** Shards uploaded at once (default 4). */
  uploadConcurrency?: number;
  /** A store to write to instead of opening `to` (tests, custom S3 config). */
  store?: ObjectStore;
  /** How store URIs (the source's, and `to` unless `store` is given) are opened; default: S3 settings from the environment. */
  storeOptions?: OpenStoreOptions;
  onEvent?: (event: IngestEvent) => void;
};

export type IngestEvent =
  | {
      type: 'scanned';
      images: number;
      classes: number;
      ignoredFiles: readonly string[];
      decodes: number;
      decodesReason: string;
    }
  | { type: 'corrupt'; path: string; reason: string }
  | {
      type: 'progress';
      imagesDone: number;
      imagesTotal: number;
      shardsUploaded: number;
      shardsSkipped: number;
      bytesUploaded: number;
    };

export type IngestSummary = {
  manifest: Manifest;
  shardsUploaded: number;
  /** Shards already present with the right sha256 (a re-run after a crash, or an unchanged re-ingest). */
  shardsSkipped: number;
  bytesUploaded: number;
  corrupt: { path: string; reason: string }[];
  ignoredFiles: number;
};

export const defaultShardSizeBytes = 64 * 1024 * 1024;

/**
 * The longer side images are downscaled to at ingest for a model trained at `imageSize`, when the user names no
 * --max-resolution: twice the training size (a random-resized crop still finds detail), at least 64 px.
 * `ringtrain train` and a TrainingRun's in-cluster ingest both use it.
 */
export function defaultMaxResolution(imageSize: number): number {
  return Math.max(64, imageSize * 2);
}

/**
 * Packs a labelled image source into shards in an object store and writes manifest.json last, so a reader
 * never sees a half-written dataset. Deterministic: the same source, seed and options give the same shards.
 */
export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const valFraction = options.valFraction ?? 0.1;
  const seed = options.seed ?? 0;
  const shardSizeBytes = options.shardSizeBytes ?? defaultShardSizeBytes;
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  if (!(shardSizeBytes > 0)) throw new RangeError(`shardSizeBytes must be positive, got ${shardSizeBytes}`);
  const emit = options.onEvent ?? (() => {});
  const store = options.store ?? openStore(options.to, options.storeOptions);

  const listing = await scanSource(options.source, options.storeOptions);
  const sized =
    options.decodeConcurrency !== undefined
      ? { decodes: options.decodeConcurrency, reason: 'requested' }
      : chooseDecodeConcurrency({ maxResolution: options.maxResolution });
  emit({
    type: 'scanned',
    images: listing.items.length,
    classes: listing.classes.length,
    ignoredFiles: listing.ignored,
    decodes: sized.decodes,
    decodesReason: sized.reason
  });
  const splits = stratifiedSplit(listing.items, listing.classes.length, valFraction, seed);

  const decodeLimit = pLimit(sized.decodes);
  const uploadConcurrency = options.uploadConcurrency ?? 4;
  const progress = {
    imagesDone: 0,
    imagesTotal: listing.items.length,
    shardsUploaded: 0,
    shardsSkipped: 0,
    bytesUploaded: 0
  };
  const corrupt: IngestSummary['corrupt'] = [];
  const inFlight = new Set<Promise<void>>();
  let uploadFailure: { error: unknown } | undefined;

  const writeShard = async (key: string, shard: Buffer, sha256: string): Promise<void> => {
    if (await sameObject(store, key, shard.length, sha256)) progress.shardsSkipped += 1;
    else {
      await store.put(key, shard);
      progress.shardsUploaded += 1;
      progress.bytesUploaded += shard.length;
    }
    emit({ type: 'progress', ...progress });
  };
  // Bounded memory: at most `uploadConcurrency` encoded shards wait for the store at once.
  const startUpload = async (key: string, shard: Buffer, sha256: string): Promise<void> => {
    while (inFlight.size >= uploadConcurrency) await Promise.race(inFlight);
    if (uploadFailure) throw uploadFailure.error;
    const upload: Promise<void> = writeShard(key, shard, sha256)
      .catch((error: unknown) => void (uploadFailure ??= { error }))
      .finally(() => inFlight.delete(upload));
    inFlight.add(upload);
  };

  const packSplit = async (name: SplitName, items: readonly SourceItem[]): Promise<ManifestSplit> => {
    const shards: ManifestShard[] = [];
    const classCounts = new Array<number>(listing.classes.length).fill(0);
    let pending: ShardSample[] = [];
    let pendingBytes = 0;
    let count = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const shard = encodeShard(pending);
      const sha256 = createHash('sha256').update(shard).digest('hex');
      const key = `${name}/shard-${String(shards.length).padStart(5, '0')}.rtshard`;
      shards.push({
        key,
        firstSample: count - pending.length,
        sampleCount: pending.length,
        bytes: shard.length,
        sha256
      });
      pending = [];
      pendingBytes = 0;
      await startUpload(key, shard, sha256);
    };
    // Decode in windows so images land in shards in split order whatever order decodes finish in.
    const window = Math.max(8, decodeLimit.concurrency * 4);
    for (let start = 0; start < items.length; start += window) {
      const batch = items.slice(start, start + window);
      const prepared = await Promise.all(
        batch.map((item) => decodeLimit(() => prepareImage(item.read, options.maxResolution)))
      );
      for (const [i, result] of prepared.entries()) {
        const item = batch[i]!;
        progress.imagesDone += 1;
        if ('reason' in result) {
          corrupt.push({ path: item.sourcePath, reason: result.reason });
          emit({ type: 'corrupt', path: item.sourcePath, reason: result.reason });
          continue;
        }
        pending.push({
          label: item.label,
          width: result.width,
          height: result.height,
          sourcePath: item.sourcePath,
          bytes: result.bytes
        });
        pendingBytes += result.bytes.length;
        classCounts[item.label]! += 1;
        count += 1;
        if (pendingBytes >= shardSizeBytes) await flush();
      }
      emit({ type: 'progress', ...progress });
    }
    await flush();
    return { count, classCounts, shards };
  };

  const train = await packSplit('train', splits.train);
  const val = await packSplit('val', splits.val);
  await Promise.all(inFlight);
  if (uploadFailure) throw uploadFailure.error;
  if (train.count === 0) {
    throw new Error(
      `no readable training images in ${options.source}: all ${corrupt.length} images were corrupt (first: ${corrupt[0]?.path}: ${corrupt[0]?.reason})`
    );
  }
  for (const [label, name] of listing.classes.entries()) {
    if (train.classCounts[label] === 0 && val.classCounts[label] === 0) {
      throw new Error(
        `class "${name}" has no readable images in ${options.source} (all were corrupt): fix or remove them`
      );
    }
  }

  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    classes: listing.classes,
    splits: { train, val },
    ingest: { seed, valFraction, maxResolution: options.maxResolution ?? null, shardSizeBytes, corrupt }
  };
  await store.put(manifestKey, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return { manifest, ...pick(progress), corrupt, ignoredFiles: listing.ignored.length };
}

function pick(progress: { shardsUploaded: number; shardsSkipped: number; bytesUploaded: number }) {
  return {
    shardsUploaded: progress.shardsUploaded,
    shardsSkipped: progress.shardsSkipped,
    bytesUploaded: progress.bytesUploaded
  };
}

/** True when the store already holds exactly these bytes (size first, so most mismatches cost no download). */
async function sameObject(store: ObjectStore, key: string, size: number, sha256: string): Promise<boolean> {
  const info = await store.stat(key);
  if (!info || info.size !== size) return false;
  return (
    createHash('sha256')
      .update(await store.get(key))
      .digest('hex') === sha256
  );
}
