import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';
import { openStore } from './open-store.js';
import { S3Store } from './s3-store.js';
import { storeContract } from './store-contract.test-helper.js';
import { StoreError } from './store-error.js';

describe('S3Store against a real MinIO', () => {
  let minio: MinioTestServer;
  let store: S3Store;
  before(async () => {
    minio = await startMinio();
    store = new S3Store('datasets', 'flowers/v1', minio.config);
    await store.ensureBucket();
  });
  after(() => minio?.stop());

  storeContract(() => store);

  it('is what s3:// URIs open, with the prefix applied to keys', async () => {
    const viaUri = openStore('s3://datasets/flowers', { s3: minio.config });
    await store.put('prefixed', Buffer.from('p'));
    assert.equal((await viaUri.get('v1/prefixed')).toString(), 'p');
  });

  it('fails at once on a missing bucket, naming bucket, key and what to check', async () => {
    const missing = new S3Store('no-such-bucket-here', 'x', minio.config, {
      deadlineMs: 10_000,
      baseDelayMs: 2_000,
      maxDelayMs: 2_000
    });
    const started = Date.now();
    await assert.rejects(missing.get('shard.bin'), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'no-such-bucket');
      assert.match(error.message, /no-such-bucket-here/);
      assert.match(error.message, /x\/shard\.bin/);
      assert.match(error.message, /bucket was created/);
      return true;
    });
    assert.ok(Date.now() - started < 1_500, 'a permanent error must not be retried');
  });

  it('fails at once on bad credentials with a hint about them', async () => {
    const denied = new S3Store(
      'datasets',
      '',
      { ...minio.config, secretKey: 'wrong-secret' },
      { deadlineMs: 10_000, baseDelayMs: 2_000, maxDelayMs: 2_000 }
    );
    const started = Date.now();
    await assert.rejects(denied.get('anything'), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'access-denied');
      assert.match(error.message, /AWS_SECRET_ACCESS_KEY/);
      return true;
    });
    assert.ok(Date.now() - started < 1_500, 'a permanent error must not be retried');
  });

  it('retries a refused connection, then reports it as transient', async () => {
    const down = new S3Store(
      'datasets',
      '',
      { ...minio.config, endpoint: 'http://127.0.0.1:1' },
      { deadlineMs: 50, baseDelayMs: 1, maxDelayMs: 2 }
    );
    await assert.rejects(down.get('k'), (error: unknown) => error instanceof StoreError && error.code === 'transient');
  });
});
