import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeGreyscalePng, loadManifest } from '@ringtrain/dataset';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';
import { runCli } from '../../run-cli.test-helper.js';

describe('ringtrain ingest into a real MinIO', () => {
  let minio: MinioTestServer;
  let work = '';
  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-s3-'));
    for (const name of ['left', 'right']) {
      await mkdir(path.join(work, 'src', name), { recursive: true });
      for (let i = 0; i < 3; i += 1)
        await writeFile(
          path.join(work, 'src', name, `${i}.png`),
          encodeGreyscalePng(new Uint8Array(64).fill(i * 40), 8, 8)
        );
    }
  });
  after(async () => {
    await minio?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const run = (argv: string[], env: NodeJS.ProcessEnv) => runCli(argv, { ...process.env, ...env });

  it('creates the bucket on request and writes shards and manifest with credentials from a mounted Secret', async () => {
    const secret = path.join(work, 'secret');
    await mkdir(secret);
    await writeFile(path.join(secret, 'AWS_ACCESS_KEY_ID'), minio.config.accessKey);
    await writeFile(path.join(secret, 'AWS_SECRET_ACCESS_KEY'), minio.config.secretKey);
    const env = {
      RINGTRAIN_S3_ENDPOINT: minio.config.endpoint,
      RINGTRAIN_S3_CREDENTIALS_DIR: secret,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: ''
    };
    const result = await run(
      ['ingest', path.join(work, 'src'), '--to', 's3://fresh/ds', '--create-bucket', '--val-fraction', '0', '--json'],
      env
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { train: number }).train, 6);
    const { manifest } = await loadManifest('s3://fresh/ds', { s3: minio.config });
    assert.deepEqual(manifest.classes, ['left', 'right']);
  });

  it('fails at once on a missing bucket, naming it and what to check', async () => {
    const env = {
      RINGTRAIN_S3_ENDPOINT: minio.config.endpoint,
      AWS_ACCESS_KEY_ID: minio.config.accessKey,
      AWS_SECRET_ACCESS_KEY: minio.config.secretKey
    };
    const result = await run(['ingest', path.join(work, 'src'), '--to', 's3://absent/ds'], env);
    assert.equal(result.code, 78, 'EX_CONFIG: the URI names no bucket; a restart would not help');
    assert.match(result.stderr, /no such bucket: bucket "absent"/);
  });
});
