import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FileStore } from './file-store.js';
import type { ManifestShard } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { ShardCache, ShardTooLargeError, splitCacheBudget } from './shard-cache.js';
import { encodeShard } from './shard-format.js';
import { StoreError } from './store-error.js';

describe('ShardCache', () => {
  let work = '';
  let store: FileStore;
  const shards: ManifestShard[] = [];
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cache-'));
    store = new FileStore(path.join(work, 'store'));
    for (let k = 0; k < 4; k += 1) {
      const bytes = encodeShard([
        { label: k, width: 1, height: 1, sourcePath: `s${k}`, bytes: new Uint8Array(1000).fill(k) }
      ]);
      const key = `train/shard-${k}.rtshard`;
      await store.put(key, bytes);
      shards.push({
        key,
        firstSample: k,
        sampleCount: 1,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex')
      });
    }
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('evicts the least recently used unpinned shard beyond its byte limit', async () => {
    const dir = path.join(work, 'lru');
    const cache = new ShardCache({ store, dir, maxBytes: shards[0]!.bytes * 2 });
    for (const shard of [shards[0]!, shards[1]!, shards[0]!, shards[2]!]) (await cache.acquire(shard)).release();
    await cache.settle();
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, [shards[0]!.sha256, shards[2]!.sha256].map((sha) => `${sha}.rtshard`).sort());
    assert.equal(cache.stats.evictions, 1);
    assert.deepEqual([cache.stats.hits, cache.stats.misses], [1, 3]);
  });

  it('never evicts a pinned shard, running over its limit instead of deadlocking', async () => {
    const cache = new ShardCache({ store, dir: path.join(work, 'pinned'), maxBytes: shards[0]!.bytes });
    const held = await Promise.all(shards.map((shard) => cache.acquire(shard)));
    assert.equal(
      cache.cachedBytes,
      shards.reduce((sum, shard) => sum + shard.bytes, 0)
    );
    assert.equal(cache.stats.overruns, 3, 'each reader past the first found the budget pinned full, and is counted');
    for (const cached of held) cached.release();
    await cache.settle();
    assert.equal(cache.cachedBytes, shards[0]!.bytes, 'released, they are evicted back to the budget');
  });

  /** Files of the cache's directory and their total size: what the kubelet measures against /cache's sizeLimit. */
  async function onDisk(dir: string): Promise<{ files: number; bytes: number }> {
    const names = await readdir(dir);
    const sizes = await Promise.all(names.map(async (name) => (await stat(path.join(dir, name))).size));
    return { files: names.length, bytes: sizes.reduce((sum, size) => sum + size, 0) };
  }

  it('prefetches only what fits its byte budget, evicting the least recently used unpinned shards first', async () => {
    const dir = path.join(work, 'prefetch-bound');
    const budget = shards[0]!.bytes * 2;
    const cache = new ShardCache({ store, dir, maxBytes: budget });
    (await cache.acquire(shards[0]!)).release();
    for (const shard of shards) cache.prefetch(shard);
    await cache.settle();
    await new Promise((resolve) => setTimeout(resolve, 50)); // prefetches are fire-and-forget
    await cache.settle();
    assert.ok(cache.cachedBytes <= budget, `${cache.cachedBytes} bytes cached, budget ${budget}`);
    assert.ok((await onDisk(dir)).bytes <= budget, 'never more on disk than the budget');
    assert.ok(
      cache.stats.bytesDownloaded <= shards[0]!.bytes * 3,
      `no shard downloaded only to be evicted at once: ${cache.stats.bytesDownloaded} bytes downloaded`
    );
    // The budget holds: a reader gets any shard, evicting the least recently used to make room before it downloads.
    for (const shard of [...shards].reverse()) {
      (await cache.acquire(shard)).release();
      assert.ok(cache.cachedBytes <= budget);
    }
    await cache.settle();
    assert.ok((await onDisk(dir)).bytes <= budget);
  });

  it('evicts before it downloads, so a full cache does not first grow past its budget', async () => {
    const dir = path.join(work, 'evict-first');
    const budget = shards[0]!.bytes * 2;
    let peak = 0;
    const watching = Object.assign(Object.create(store) as ObjectStore, {
      getStream: async (key: string) => {
        await cache.settle();
        peak = Math.max(peak, (await onDisk(dir)).bytes + shards[0]!.bytes);
        return store.getStream(key);
      }
    });
    const cache: ShardCache = new ShardCache({ store: watching, dir, maxBytes: budget });
    for (const shard of shards) (await cache.acquire(shard)).release();
    assert.ok(peak <= budget, `peak ${peak} bytes with the download, budget ${budget}`);
    assert.equal(cache.stats.evictions, 2);
  });

  it('refuses a shard larger than its whole budget, saying which and what to change', async () => {
    const cache = new ShardCache({ store, dir: path.join(work, 'too-small'), maxBytes: shards[0]!.bytes - 1 });
    await assert.rejects(cache.acquire(shards[0]!), (error: Error) => {
      assert.ok(error instanceof ShardTooLargeError);
      assert.match(
        error.message,
        new RegExp(
          `shard .*train/shard-0\\.rtshard is ${shards[0]!.bytes} bytes, more than the shard cache's budget of ${shards[0]!.bytes - 1} bytes`
        )
      );
      assert.match(error.message, /cacheSizeLimit/);
      return true;
    });
    assert.equal(cache.stats.bytesDownloaded, 0, 'refused before downloading');
  });

  it('adopts verified files left by an earlier process and fetches damaged ones afresh', async () => {
    const dir = path.join(work, 'restart');
    const first = new ShardCache({ store, dir, maxBytes: 1 << 20 });
    for (const shard of shards.slice(0, 2)) (await first.acquire(shard)).release();
    await writeFile(path.join(dir, `${shards[1]!.sha256}.rtshard`), 'damaged');
    const second = new ShardCache({ store, dir, maxBytes: 1 << 20 });
    const warm = await second.acquire(shards[0]!);
    assert.equal(warm.index[0]!.sourcePath, 's0');
    warm.release();
    assert.equal(second.stats.bytesDownloaded, 0);
    // Two readers at once: one fresh download between them.
    const fresh = await Promise.all([second.acquire(shards[1]!), second.acquire(shards[1]!)]);
    assert.deepEqual(
      fresh.map((cached) => cached.index[0]!.label),
      [1, 1]
    );
    assert.equal(second.stats.bytesDownloaded, shards[1]!.bytes);
    for (const cached of fresh) cached.release();
  });

  /** The store, except that the first `cuts` bodies break off halfway with `error`. */
  function cutting(cuts: number, error: () => Error): ObjectStore {
    let left = cuts;
    return Object.assign(Object.create(store) as ObjectStore, {
      getStream: async (key: string) => {
        const bytes = await store.get(key);
        if (left <= 0) return Readable.from([bytes]);
        left -= 1;
        return new Readable({
          read() {
            this.push(bytes.subarray(0, bytes.length >> 1));
            this.destroy(error());
          }
        });
      }
    });
  }

  it('downloads again a body cut mid-object (a store restart), and gives up on one that keeps breaking', async () => {
    const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const cache = new ShardCache({ store: cutting(2, reset), dir: path.join(work, 'cut'), maxBytes: 1 << 20 });
    const cached = await cache.acquire(shards[0]!);
    assert.equal(cached.index[0]!.sourcePath, 's0');
    cached.release();
    assert.equal(cache.stats.redownloads, 2);
    const broken = new ShardCache({ store: cutting(100, reset), dir: path.join(work, 'broken'), maxBytes: 1 << 20 });
    await assert.rejects(broken.acquire(shards[1]!), /ECONNRESET/);
    const denied = new ShardCache({
      store: cutting(1, () => new StoreError('access-denied', 'denied', 'x')),
      dir: path.join(work, 'denied'),
      maxBytes: 1 << 20
    });
    await assert.rejects(denied.acquire(shards[2]!), /denied/, 'a permanent error is not a cut');
  });
});

describe("splitCacheBudget: one worker's cache budget over its training and validation caches", () => {
  const manifest = (train: number[], val: number[]) => ({
    splits: {
      train: {
        count: 0,
        classCounts: [],
        shards: train.map((bytes, k) => ({ key: `train/${k}`, firstSample: 0, sampleCount: 1, bytes, sha256: '' }))
      },
      val: {
        count: 0,
        classCounts: [],
        shards: val.map((bytes, k) => ({ key: `val/${k}`, firstSample: 0, sampleCount: 1, bytes, sha256: '' }))
      }
    }
  });

  it("shares a budget too small for the dataset by each split's bytes", () => {
    assert.deepEqual(splitCacheBudget(manifest([600, 600, 600], [100, 100]), 1000), { train: 900, val: 100 });
  });

  it('gives the validation split room for its largest shard, and no more than all of it', () => {
    assert.deepEqual(splitCacheBudget(manifest([900, 900], [300]), 1000), { train: 700, val: 300 });
    assert.deepEqual(splitCacheBudget(manifest([100], [50]), 10_000), { train: 9950, val: 50 });
  });
});
