import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Manifest, ManifestShard, SplitName } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { StoreError } from './store-error.js';
import { decodeShardIndex, shardHeadLength, type ShardIndexEntry } from './shard-format.js';

export type ShardCacheOptions = {
  store: ObjectStore;
  /** Local directory for cached shards; files are named by their sha256, so several runs can share it. */
  dir: string;
  /**
   * Byte budget (a TrainingRun's spec.workers.cacheSizeLimit, less headroom, via the run's cacheBytes): least
   * recently used shards that no batch is reading are evicted to make room before a download starts; a prefetch
   * that finds no room is skipped; a shard larger than the whole budget is refused (ShardTooLargeError).
   */
  maxBytes: number;
  /** Shards downloaded at once. */
  downloadConcurrency?: number;
};

export type CacheStats = {
  hits: number;
  misses: number;
  bytesDownloaded: number;
  evictions: number;
  redownloads: number;
  /** Prefetches not started because every cached shard was pinned and the budget was full. */
  prefetchesSkipped: number;
  /** Downloads a reader needed while pinned shards held the whole budget, so the cache ran over it. */
  overruns: number;
};

/** A shard on local disk, pinned (never evicted) until released. */
export type CachedShard = { file: string; index: ShardIndexEntry[]; release(): void };

type Entry = {
  sha256: string;
  bytes: number;
  file: string;
  pins: number;
  lastUsed: number;
  /** The download (or verification of a file found on disk) and the shard's index. */
  ready?: Promise<ShardIndexEntry[]>;
  settled?: boolean;
  /** Found on disk at start-up rather than downloaded by this process. */
  adopted?: boolean;
};

/** A shard that does not fit in the cache at all: the budget is too small for this dataset's shards. */
export class ShardTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardTooLargeError';
  }
}

export class ShardChecksumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardChecksumError';
  }
}

/**
 * A byte-limited LRU cache of shards on local disk, filled from the object store with bounded parallelism and
 * checked by sha256. The budget is kept before a download starts, not after it: least recently used shards no
 * batch is reading are evicted first, since the kubelet evicts a pod whose /cache passes its sizeLimit. A
 * prefetch that finds no room is skipped (the batch that needs the shard fetches it). A pinned shard is never
 * evicted: when pinned shards fill the whole budget, a reader's download runs over it (counted in `overruns`)
 * rather than block, because blocking on space that only the blocked reader could free is the cache-limit
 * deadlock Streaming users hit (streaming#417); the pinned working set is a few batches' shards, which the
 * operator's headroom under sizeLimit covers.
 */
export class ShardCache {
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    bytesDownloaded: 0,
    evictions: 0,
    redownloads: 0,
    prefetchesSkipped: 0,
    overruns: 0
  };
  private readonly entries = new Map<string, Entry>();
  private readonly limit: LimitFunction;
  private clock = 0;
  private ready: Promise<void>;
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly options: ShardCacheOptions) {
    this.limit = pLimit(options.downloadConcurrency ?? 4);
    this.ready = this.adoptExisting();
  }

  get cachedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) if (entry.ready) total += entry.bytes;
    return total;
  }

  /** Resolves once evicted files are deleted from disk (tests, shutdown). */
  async settle(): Promise<void> {
    await this.ready;
    while (this.removals.size > 0) await Promise.all(this.removals);
  }

  /**
   * Makes sure the shard is local and verified, and pins it until `release()`. Counts a hit when the shard was
   * cached or already on its way (prefetched), a miss when this call had to start the download.
   */
  acquire(shard: ManifestShard): Promise<CachedShard> {
    return this.pin(shard, true);
  }

  /** Downloads a shard ahead of need without pinning it; not counted as a hit or a miss. */
  prefetch(shard: ManifestShard): void {
    this.pin(shard, false).then(
      (cached) => cached.release(),
      () => {} // the reader that needs it will see the error itself
    );
  }

  private async pin(shard: ManifestShard, demand: boolean): Promise<CachedShard> {
    if (shard.bytes > this.options.maxBytes) {
      throw new ShardTooLargeError(
        `shard ${this.options.store.uri}/${shard.key} is ${shard.bytes} bytes, more than the shard cache's budget of ${this.options.maxBytes} bytes: ` +
          `raise the cache (a TrainingRun's spec.workers.cacheSizeLimit) or ingest with smaller shards (ringtrain ingest --shard-size)`
      );
    }
    await this.ready;
    let entry = this.entries.get(shard.sha256);
    if (entry?.adopted) {
      // A file found on disk at start-up is only trusted once verified; a damaged one is fetched afresh.
      const verified = await entry.ready!.then(
        () => true,
        () => false
      );
      entry.adopted = false;
      if (!verified && this.entries.get(shard.sha256) === entry) this.entries.delete(shard.sha256);
      // Re-read: while we waited, another caller may have started the fresh download, or eviction removed it.
      entry = this.entries.get(shard.sha256);
    }
    if (entry?.ready) {
      if (demand) this.stats.hits += 1;
    } else {
      // Room first: the budget holds on disk, not only once the download is done.
      if (!this.evictFor(shard.bytes)) {
        if (!demand) {
          this.stats.prefetchesSkipped += 1;
          return { file: '', index: [], release: () => {} };
        }
        this.stats.overruns += 1;
      }
      if (demand) this.stats.misses += 1;
      entry ??= { sha256: shard.sha256, bytes: shard.bytes, file: this.fileOf(shard.sha256), pins: 0, lastUsed: 0 };
      this.entries.set(shard.sha256, entry);
      entry.ready = track(
        entry,
        this.limit(() => this.download(shard, entry!.file))
      );
    }
    entry.pins += 1;
    entry.lastUsed = ++this.clock;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      entry!.pins -= 1;
      this.evictFor(0);
    };
    try {
      const index = await entry.ready;
      return { file: entry.file, index, release };
    } catch (error) {
      release();
      if (this.entries.get(shard.sha256) === entry) this.entries.delete(shard.sha256);
      throw error;
    }
  }

  private fileOf(sha256: string): string {
    return path.join(this.options.dir, `${sha256}.rtshard`);
  }

  /** Files left by an earlier process are reused (verified on first use), so a restarted worker starts warm. */
  private async adoptExisting(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    for (const name of await readdir(this.options.dir)) {
      const match = /^([0-9a-f]{64})\.rtshard$/.exec(name);
      if (!match) {
        if (name.endsWith('.partial')) await rm(path.join(this.options.dir, name), { force: true });
        continue;
      }
      const file = path.join(this.options.dir, name);
      const info = await stat(file);
      const sha256 = match[1]!;
      const entry: Entry = { sha256, bytes: info.size, file, pins: 0, lastUsed: 0, adopted: true };
      entry.ready = track(
        entry,
        verifyFile(file, sha256).then((ok) => {
          if (!ok) throw new ShardChecksumError(`cached ${file} is damaged`);
          return readIndex(file, info.size);
        })
      );
      this.entries.set(sha256, entry);
    }
    this.evictFor(0);
  }

  private async download(shard: ManifestShard, file: string): Promise<ShardIndexEntry[]> {
    // The files evicted to make room are gone from disk before this one is written.
    await Promise.all([...this.removals]);
    let cuts = 0;
    for (let attempt = 1; ; attempt += 1) {
      const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
      const hash = createHash('sha256');
      let bytes = 0;
      // Opening waits out an outage by itself (the store's retry, up to the reconnect deadline).
      const body = await this.options.store.getStream(shard.key);
      try {
        // Hash while streaming to disk: one pass over the bytes, and 1 MiB writes rather than 16 KiB ones.
        await pipeline(
          body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(temp, { highWaterMark: 1 << 20 })
        );
      } catch (error) {
        await rm(temp, { force: true });
        // A body cut mid-object (the store restarted, a connection reset) is not seen by the store's retry,
        // which ended when the object opened: download again, a few times.
        if (cuts < MAX_BODY_CUTS && bodyWasCut(error, temp)) {
          cuts += 1;
          attempt -= 1;
          this.stats.redownloads += 1;
          continue;
        }
        throw error;
      }
      this.stats.bytesDownloaded += bytes;
      const actual = hash.digest('hex');
      if (actual === shard.sha256 && bytes === shard.bytes) {
        await rename(temp, file);
        return readIndex(file, bytes);
      }
      await rm(temp, { force: true });
      if (attempt >= 2) {
        throw new ShardChecksumError(
          `shard ${this.options.store.uri}/${shard.key} failed its checksum twice (expected sha256 ${shard.sha256} and ${shard.bytes} bytes, ` +
            `got ${actual} and ${bytes}): the stored object differs from manifest.json; re-run ingest for this dataset`
        );
      }
      this.stats.redownloads += 1;
    }
  }

  /**
   * Evicts least recently used shards nobody reads until `incoming` more bytes fit in the budget; false when
   * they cannot (the rest is pinned or still downloading). Synchronous, so a caller's check and its download
   * start see the same cache.
   */
  private evictFor(incoming: number): boolean {
    const limit = this.options.maxBytes - incoming;
    let total = this.cachedBytes;
    if (total <= limit) return true;
    const candidates = [...this.entries.values()]
      .filter((entry) => entry.pins === 0 && entry.ready)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of candidates) {
      if (total <= limit) break;
      // Never evict a download in flight: its reader is about to pin it.
      if (!entry.settled || entry.pins > 0 || this.entries.get(entry.sha256) !== entry) continue;
      this.entries.delete(entry.sha256);
      total -= entry.bytes;
      this.stats.evictions += 1;
      const removal = rm(entry.file, { force: true }).finally(() => this.removals.delete(removal));
      this.removals.add(removal);
    }
    return total <= limit;
  }
}

/**
 * One worker's cache budget shared between its two caches (one per split): each split's share of the dataset's
 * bytes, the validation split's at least its largest shard and at most all of it (its shards are read every
 * epoch), the training split the rest. A dataset that fits is cached whole either way.
 */
export function splitCacheBudget(manifest: Pick<Manifest, 'splits'>, totalBytes: number): Record<SplitName, number> {
  const bytesOf = (name: SplitName) => manifest.splits[name].shards.reduce((sum, shard) => sum + shard.bytes, 0);
  const largestOf = (name: SplitName) =>
    manifest.splits[name].shards.reduce((most, shard) => Math.max(most, shard.bytes), 0);
  const train = bytesOf('train');
  const val = bytesOf('val');
  if (train + val === 0) return { train: totalBytes, val: 0 };
  const share = Math.floor((totalBytes * val) / (train + val));
  const valBudget = Math.min(val, Math.max(share, largestOf('val')));
  return { train: Math.max(0, totalBytes - valBudget), val: valBudget };
}

function track(entry: Entry, work: Promise<ShardIndexEntry[]>): Promise<ShardIndexEntry[]> {
  const settle = () => void (entry.settled = true);
  work.then(settle, settle);
  return work;
}

async function readIndex(file: string, size: number): Promise<ShardIndexEntry[]> {
  const handle = await open(file, 'r');
  try {
    const fixed = Buffer.alloc(16);
    await handle.read(fixed, 0, 16, 0);
    const head = Buffer.alloc(shardHeadLength(fixed));
    await handle.read(head, 0, head.length, 0);
    return decodeShardIndex(head, size);
  } finally {
    await handle.close();
  }
}

async function verifyFile(file: string, sha256: string): Promise<boolean> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex') === sha256;
}

/** Bodies cut mid-object that one shard's download survives; each reopen waits out an outage by itself. */
const MAX_BODY_CUTS = 5;

/** Whether a download failed because its body stopped arriving, rather than on a permanent error or on local disk. */
function bodyWasCut(error: unknown, temp: string): boolean {
  if (error instanceof StoreError) return error.code === 'transient';
  const { code, path: where } = (error ?? {}) as { code?: unknown; path?: unknown };
  if (where === temp || code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT') return false;
  return error instanceof Error;
}
