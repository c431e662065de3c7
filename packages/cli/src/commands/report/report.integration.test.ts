import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore, S3Store } from '@ringtrain/dataset';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';
import { runCli } from '../../run-cli.test-helper.js';
import { demoMetricsText } from './testdata/fixtures.js';

describe('ringtrain report from a run in a real MinIO', () => {
  let minio: MinioTestServer;
  let work = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-report-s3-'));
    const store = openStore('s3://runs/resnet18-digits', { s3: minio.config });
    assert.ok(store instanceof S3Store);
    await store.ensureBucket();
    await store.put('metrics.json', Buffer.from(demoMetricsText));
    env = {
      RINGTRAIN_S3_ENDPOINT: minio.config.endpoint,
      AWS_ACCESS_KEY_ID: minio.config.accessKey,
      AWS_SECRET_ACCESS_KEY: minio.config.secretKey
    };
  });
  after(async () => {
    await minio?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const report = (argv: string[]) => runCli(['report', ...argv], { ...process.env, ...env });

  it('reads metrics.json from an s3:// output URI, as a TrainingRun writes it', async () => {
    const html = path.join(work, 'report.html');
    const result = await report(['s3://runs/resnet18-digits/', '--out', html]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      await readFile(html, 'utf8'),
      /Made by <code>ringtrain report<\/code> from s3:\/\/runs\/resnet18-digits\/metrics\.json/
    );
  });

  it('says the run has not written metrics.json yet, naming the URI', async () => {
    const result = await report(['s3://runs/still-training', '--out', path.join(work, 'none.html')]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /s3:\/\/runs\/still-training\/metrics\.json does not exist: metrics\.json is written when a run ends/
    );
  });
});
