import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ingest, type IngestEvent } from './ingest.js';
import { loadManifest } from './load-manifest.js';
import { S3Store } from './s3-store.js';
import { makeImageFolder } from './test-images.test-helper.js';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';

/** Copies a local tree into a store, key for relative path, as `aws s3 sync` would. */
async function upload(root: string, store: S3Store): Promise<void> {
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    await store.put(path.relative(root, file).split(path.sep).join('/'), await readFile(file));
  }
}

describe('ingest from s3:// against a real MinIO', () => {
  let minio: MinioTestServer;
  let work = '';
  let local = '';
  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-ingest-s3-'));
    local = await makeImageFolder(path.join(work, 'flowers'), {
      classes: { daisy: 8, tulip: 5, rose: 4 },
      corrupt: true,
      nonImage: true
    });
    const raw = new S3Store('raw', 'flowers', minio.config);
    await raw.ensureBucket();
    await upload(local, raw);
    // A neighbour whose name starts like the source's prefix: none of its objects may join the dataset.
    await new S3Store('raw', 'flowers-v2', minio.config).put(
      'orchid/img-000.jpg',
      await readFile(path.join(local, 'daisy', 'img-000.jpg'))
    );
    await raw.put(
      'labels.csv',
      Buffer.from('path,label\ndaisy/img-001.jpg,daisy\nrose/img-002.jpg,rose\nrose/notes.txt,rose\n')
    );
    await new S3Store('datasets', '', minio.config).ensureBucket();
  });
  after(async () => {
    await minio?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('packs s3://bucket/prefix/<class>/<image> into the same dataset as the same tree on disk, then resumes without uploading', async () => {
    const options = { valFraction: 0.25, seed: 11, shardSizeBytes: 1_500, storeOptions: { s3: minio.config } };
    const onDisk = await ingest({ source: local, to: path.join(work, 'from-disk'), ...options });
    const events: IngestEvent[] = [];
    const first = await ingest({
      source: 's3://raw/flowers/',
      to: 's3://datasets/flowers',
      ...options,
      onEvent: (event) => events.push(event)
    });
    assert.deepEqual(first.manifest, onDisk.manifest);
    assert.deepEqual(first.manifest.classes, ['daisy', 'rose', 'tulip']);
    assert.deepEqual(
      first.corrupt.map((item) => item.path),
      ['daisy/broken.jpg']
    );
    assert.ok(
      events.some(
        (event) =>
          event.type === 'scanned' &&
          event.ignoredFiles.includes('daisy/README.txt') &&
          event.ignoredFiles.includes('labels.csv')
      )
    );
    assert.deepEqual((await loadManifest('s3://datasets/flowers', { s3: minio.config })).manifest, first.manifest);

    const again = await ingest({ source: 's3://raw/flowers', to: 's3://datasets/flowers', ...options });
    assert.equal(again.shardsUploaded, 0);
    assert.equal(again.shardsSkipped, first.shardsUploaded);
  });

  it('reads a labels.csv object, its rows relative to its folder', async () => {
    const summary = await ingest({
      source: 's3://raw/flowers/labels.csv',
      to: 's3://datasets/listed',
      valFraction: 0,
      storeOptions: { s3: minio.config }
    });
    assert.deepEqual(summary.manifest.classes, ['daisy', 'rose']);
    assert.equal(summary.manifest.splits.train.count, 2);
    assert.equal(summary.ignoredFiles, 1);
  });

  it('refuses a class prefix that holds only a folder marker, and an empty prefix, naming them', async () => {
    const raw = new S3Store('raw', 'sparse', minio.config);
    await raw.put('full/img-000.jpg', await readFile(path.join(local, 'daisy', 'img-000.jpg')));
    await raw.put('hollow/', Buffer.alloc(0));
    await assert.rejects(
      ingest({ source: 's3://raw/sparse', to: 's3://datasets/sparse', storeOptions: { s3: minio.config } }),
      /class folder s3:\/\/raw\/sparse\/hollow has no images/
    );
    await assert.rejects(
      ingest({ source: 's3://raw/nothing-here', to: 's3://datasets/none', storeOptions: { s3: minio.config } }),
      /s3:\/\/raw\/nothing-here holds no objects/
    );
  });
});
