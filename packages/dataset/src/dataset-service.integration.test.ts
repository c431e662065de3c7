import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { centerCropPlanner } from './crop-planner.js';
import { DataLoader } from './loader.js';
import { openStore } from './open-store.js';
import {
  DatasetServiceConnection,
  startDatasetService,
  type RemotePlanRequest,
  type RunningDatasetService
} from './dataset-service.js';
import { planEpoch } from './epoch-plan.js';
import { rankZeroOfTwo } from './epoch-plan.test-helper.js';
import { ingest } from './ingest.js';
import { shardSampleCounts } from './manifest.js';
import { S3Store } from './s3-store.js';
import { makeImageFolder } from './test-images.test-helper.js';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';

describe('dataset service over a dataset ingested into a real MinIO', () => {
  let minio: MinioTestServer;
  let service: RunningDatasetService;
  let client: DatasetServiceConnection;
  let work = '';
  const dataset = 's3://datasets/flowers';
  /** rankZeroOfTwo over the train split, padded; a test overrides what it is about. */
  const planRequest = (overrides: Partial<RemotePlanRequest> = {}): RemotePlanRequest => ({
    dataset,
    split: 'train',
    ...rankZeroOfTwo,
    remainder: 'pad',
    ...overrides
  });

  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-service-'));
    const source = await makeImageFolder(path.join(work, 'src'), { classes: { a: 12, b: 9, c: 7 } });
    const store = new S3Store('datasets', 'flowers', minio.config);
    await store.ensureBucket();
    const first = await ingest({ source, to: dataset, store, seed: 11, shardSizeBytes: 2_000 });
    // A re-run against MinIO finds every shard in place with the right sha256.
    const again = await ingest({ source, to: dataset, store, seed: 11, shardSizeBytes: 2_000 });
    assert.equal(again.shardsUploaded, 0);
    assert.equal(again.shardsSkipped, first.shardsUploaded);
    service = await startDatasetService({ datasets: [dataset, `file://${work}/empty`], store: { s3: minio.config } });
    client = new DatasetServiceConnection(service.address);
  });
  after(async () => {
    client?.close();
    await service?.stop();
    await minio?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('serves the manifest as stored', async () => {
    const loaded = await client.getManifest(dataset);
    assert.deepEqual(loaded.manifest.classes, ['a', 'b', 'c']);
    assert.equal(loaded.manifest.splits.train.count + loaded.manifest.splits.val.count, 28);
  });

  it('serves, for every rank, the plan the library computes locally', async () => {
    const { manifest, sha256 } = await client.getManifest(dataset);
    for (const dropLastBatchBelow of [0, 1]) {
      const common = {
        seed: 4,
        epoch: 2,
        worldSize: 3,
        batchSize: 2,
        samplesConsumed: 6,
        remainder: 'drop' as const,
        partitions: 3,
        dropLastBatchBelow
      };
      for (let rank = 0; rank < 3; rank += 1) {
        const remote = await client.getEpochPlan({ dataset, split: 'train', rank, ...common });
        const local = planEpoch({ shardSampleCounts: shardSampleCounts(manifest.splits.train), rank, ...common });
        assert.deepEqual(remote.samples, local.samples);
        assert.equal(remote.dropped, local.dropped);
        assert.equal(remote.manifestSha256, sha256);
      }
    }
  });

  it('feeds a loader that streams the planned shards from MinIO into batches', async () => {
    const { manifest } = await client.getManifest(dataset);
    const plan = await client.getEpochPlan(planRequest({ rank: 1, batchSize: 3 }));
    const loader = new DataLoader({
      store: openStore(dataset, { s3: minio.config }),
      manifest,
      split: 'train',
      seed: 1,
      batchSize: 3,
      imageSize: 8,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      planner: centerCropPlanner,
      cacheDir: path.join(work, 'cache'),
      cacheBytes: 1 << 20,
      threads: 1
    });
    try {
      const seen: number[] = [];
      for await (const batch of loader.epoch(plan.samples, 0)) seen.push(...batch.samples);
      assert.deepEqual(seen, [...plan.samples]);
      assert.ok(loader.stats.cache.bytesDownloaded > 0);
      assert.equal(loader.stats.corrupt, 0);
    } finally {
      await loader.close();
    }
  });

  it('answers bad requests with status codes and messages that say what is wrong', async () => {
    await assert.rejects(
      client.getEpochPlan(planRequest({ samplesConsumed: 10_000 })),
      /INVALID_ARGUMENT: .*another dataset or split/
    );
    await assert.rejects(
      client.getEpochPlan(planRequest({ rank: 5 })),
      /INVALID_ARGUMENT: rank 5 is outside a world of 2/
    );
    await assert.rejects(
      client.getManifest('s3://datasets/other'),
      /PERMISSION_DENIED: dataset s3:\/\/datasets\/other is not served here/
    );
    await assert.rejects(client.getManifest(`file://${work}/empty`), /NOT_FOUND: .*manifest\.json/);
  });
});
