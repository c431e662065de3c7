import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FileStore } from './file-store.js';
import type { ManifestShard } from './manifest.js';
import type { ObjectStore } from './object-store.js';
import { ShardCache } from './shard-cache.js';
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
      const bytes = encodeShard([{ label: k, width: 1, height: 1, sourcePath: `s${k}`, bytes: new Uint8Array(1000).fill(k) }]);
      const key = `train/shard-${k}.rtshard`;
      await store.put(key, bytes);
      shards.push({ key, firstSample: k, sampleCount: 1, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
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
    const cache = new ShardCache({ store, dir: path.join(work, 'pinned'), maxBytes: 1 });
    const held = await Promise.all(shards.map((shard) => cache.acquire(shard)));
    assert.equal(cache.cachedBytes, shards.reduce((sum, shard) => sum + shard.bytes, 0));
    for (const cached of held) cached.release();
    await cache.settle();
    assert.equal(cache.cachedBytes, 0);
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
    assert.deepEqual(fresh.map((cached) => cached.index[0]!.label), [1, 1]);
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
          },
        });
      },
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
    const denied = new ShardCache({ store: cutting(1, () => new StoreError('access-denied', 'denied', 'x')), dir: path.join(work, 'denied'), maxBytes: 1 << 20 });
    await assert.rejects(denied.acquire(shards[2]!), /denied/, 'a permanent error is not a cut');
  });
});
