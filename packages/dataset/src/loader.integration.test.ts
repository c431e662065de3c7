import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { centerCropPlanner } from './crop-planner.js';
import { planEpoch } from './epoch-plan.js';
import { ingest } from './ingest.js';
import { loadManifest } from './load-manifest.js';
import { DataLoader } from './loader.js';
import { shardSampleCounts, type Manifest } from './manifest.js';
import type { RetryEvent } from '@ringtrain/proto';
import type { RetryOptions } from './retry.js';
import { S3Store } from './s3-store.js';
import { makeImageFolder } from './test-images.test-helper.js';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';

/**
 * Chaos against a real MinIO: the server is killed (SIGKILL, as a pod is) and started again on the same data,
 * once while a rank starts up and once mid-epoch. Outages are 3 s here, scaled down from the 30 s of issue 15;
 * the reconnect deadline is 30 s, so every wait must end in success, not in giving up.
 */
describe('the data path through MinIO restarts', { timeout: 120_000 }, () => {
  const outageMs = 3_000;
  let minio: MinioTestServer;
  let work = '';
  let manifest: Manifest;
  const retries: RetryEvent[] = [];
  const patience: RetryOptions = {
    deadlineMs: 30_000,
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    onRetry: (event) => retries.push(event)
  };

  /** Kills MinIO now and starts it again after the outage; resolves once it is back. */
  function outage(): { back: Promise<void> } {
    const back = (async () => {
      await minio.kill();
      await new Promise((resolve) => setTimeout(resolve, outageMs));
      await minio.restart();
    })();
    return { back };
  }

  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-loader-chaos-'));
    const source = await makeImageFolder(path.join(work, 'src'), {
      classes: { red: 14, green: 12, blue: 10 },
      width: 24,
      height: 16
    });
    const store = new S3Store('datasets', 'chaos', minio.config, patience);
    await store.ensureBucket();
    // Small shards, many of them: most are fetched after the mid-epoch outage begins.
    manifest = (await ingest({ source, to: 'unused', store, valFraction: 0, seed: 1, shardSizeBytes: 600 })).manifest;
    assert.ok(manifest.splits.train.shards.length >= 12, `${manifest.splits.train.shards.length} shards`);
  });
  after(async () => {
    await minio?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a rank starting while MinIO is down waits for it and loads the manifest once it is back', async () => {
    retries.length = 0;
    const { back } = outage();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the kill has landed
    const started = Date.now();
    const loaded = await loadManifest('s3://datasets/chaos', { s3: minio.config, retry: patience });
    await back;
    assert.deepEqual(loaded.manifest, manifest);
    assert.ok(Date.now() - started >= outageMs - 500, 'it waited out the outage');
    assert.ok(retries.length >= 3, `${retries.length} retries logged`);
    assert.match(
      retries[0]!.what,
      /^object storage at http:\/\/127\.0\.0\.1:\d+ \(s3:\/\/datasets\/chaos\/manifest\.json\)$/
    );
    assert.ok(
      retries.at(-1)!.downForMs >= outageMs - 1_500,
      `the last retry came ${retries.at(-1)!.downForMs} ms into the outage`
    );
  });

  it('two ranks reading an epoch through a MinIO restart mid-epoch deliver every planned sample exactly once', async () => {
    retries.length = 0;
    const worldSize = 2;
    const plans = Array.from({ length: worldSize }, (_, rank) =>
      planEpoch({
        shardSampleCounts: shardSampleCounts(manifest.splits.train),
        seed: 5,
        epoch: 0,
        worldSize,
        rank,
        batchSize: 2,
        samplesConsumed: 0,
        remainder: 'drop',
        partitions: 2
      })
    );
    const loaders = plans.map(
      (_, rank) =>
        new DataLoader({
          store: new S3Store('datasets', 'chaos', minio.config, patience),
          manifest,
          split: 'train',
          seed: 5,
          batchSize: 2,
          imageSize: 8,
          mean: [0, 0, 0],
          std: [1, 1, 1],
          planner: centerCropPlanner,
          cacheDir: path.join(work, `cache-${rank}`),
          cacheBytes: 1 << 30,
          threads: 1,
          prefetchShards: 1
        })
    );
    let down: { back: Promise<void> } | undefined;
    try {
      const delivered = await Promise.all(
        loaders.map(async (loader, rank) => {
          const samples: number[] = [];
          const labels: number[] = [];
          for await (const batch of loader.epoch(plans[rank]!.samples, 0)) {
            samples.push(...batch.samples);
            labels.push(...batch.labels);
            // After rank 0's second batch: most shards are still to be fetched.
            if (rank === 0 && samples.length === 4) down = outage();
          }
          return { samples, labels };
        })
      );
      assert.ok(down, 'the outage happened mid-epoch');
      await down.back;
      for (const [rank, { samples }] of delivered.entries())
        assert.deepEqual(samples, [...plans[rank]!.samples], `rank ${rank}: the planned samples in the planned order`);
      const all = delivered.flatMap(({ samples }) => samples).sort((a, b) => a - b);
      assert.equal(plans[0]!.dropped, 0, '36 samples in windows of 2 ranks × 2: none dropped');
      assert.deepEqual(
        all,
        Array.from({ length: manifest.splits.train.count }, (_, i) => i),
        'every sample exactly once'
      );
      const perClass = manifest.classes.map(
        (_, label) => delivered.flatMap(({ labels }) => labels).filter((each) => each === label).length
      );
      assert.deepEqual(perClass, manifest.splits.train.classCounts, 'each class as often as the manifest counts it');
      assert.ok(retries.length >= 1, 'shards fetched during the outage were retried, not failed');
      assert.deepEqual(
        loaders.map((loader) => loader.stats.corrupt),
        [0, 0]
      );
    } finally {
      await down?.back.catch(() => undefined);
      await Promise.all(loaders.map((loader) => loader.close()));
    }
  });
});
