import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { S3Store, StoreError } from '@ringtrain/dataset';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { parseTrainingRun } from '../api/validate.js';
import type { TrainingRun } from '../api/training-run.js';
import { storageCredentialsSecretName } from '../resources/storage-credentials.js';
import { assumeRole, StorageCredentialsMinter } from './storage-credentials-minter.js';

const noRetry = { deadlineMs: 1_000, baseDelayMs: 50, maxDelayMs: 50 };

/**
 * Two tenants on one real MinIO, each with the credentials the operator mints for its run: B's pods can read
 * B's dataset and write B's output and checkpoints, and get AccessDenied on everything of A's (and the other
 * way round). The keys reach the store the way they reach a pod: files of the run's Secret, session token
 * included, read through RINGTRAIN_S3_CREDENTIALS_DIR's code path.
 */
describe('per-run storage credentials against a real MinIO', () => {
  let minio: MinioTestServer;
  let work = '';
  let adminDir = '';
  const secrets = new Map<string, V1Secret>();
  let minter: StorageCredentialsMinter;

  const run = (name: string): TrainingRun => {
    const input = sampleRunInput({
      name,
      spec: {
        dataset: { uri: `s3://datasets/${name}` },
        output: { uri: `s3://runs/${name}` },
        storage: { endpoint: minio.config.endpoint }
      }
    });
    return parseTrainingRun({ ...input, metadata: { ...input.metadata, uid: `uid-${name}` } });
  };

  /** A store on `uri` that signs with the run's minted Secret, mounted as files as the kubelet does. */
  const storeOf = async (runName: string, bucket: string, prefix: string) => {
    const secret = secrets.get(storageCredentialsSecretName(runName));
    assert.ok(secret?.stringData, `no Secret minted for ${runName}`);
    const dir = path.join(work, runName);
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    for (const [key, value] of Object.entries(secret.stringData)) await writeFile(path.join(dir, key), value);
    const { endpoint, region, pathStyle } = minio.config;
    return new S3Store(
      bucket,
      prefix,
      { endpoint, region, pathStyle, credentialSource: { kind: 'mounted-secret', dir } },
      noRetry
    );
  };

  const denied = async (what: Promise<unknown>) =>
    assert.rejects(what, (error) => error instanceof StoreError && error.code === 'access-denied');

  before(async () => {
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-minted-'));
    adminDir = path.join(work, 'admin');
    await import('node:fs/promises').then((fs) => fs.mkdir(adminDir));
    await writeFile(path.join(adminDir, 'AWS_ACCESS_KEY_ID'), minio.config.accessKey);
    await writeFile(path.join(adminDir, 'AWS_SECRET_ACCESS_KEY'), minio.config.secretKey);
    for (const bucket of ['datasets', 'runs']) await new S3Store(bucket, '', minio.config).ensureBucket();
    const root = (bucket: string) => new S3Store(bucket, '', minio.config);
    for (const name of ['a', 'b']) {
      await root('datasets').put(`${name}/manifest.json`, Buffer.from(`{"dataset":"${name}"}`));
      await root('runs').put(`${name}/run-record.json`, Buffer.from(`{"run":"${name}"}`));
      await root('runs').put(`${name}/checkpoints/latest.json`, Buffer.from(`{"run":"${name}"}`));
    }
    // A sibling whose name starts with b's: a prefix match without the slash would let b reach it.
    await root('runs').put('bb/run-record.json', Buffer.from('{"run":"bb"}'));
    minter = new StorageCredentialsMinter(
      { endpoint: minio.config.endpoint, credentialsDir: adminDir, durationSeconds: 900 },
      async (secret) => void secrets.set(secret.metadata?.name ?? '', secret)
    );
    await minter.ensure(run('a'));
    await minter.ensure(run('b'));
  });
  after(async () => {
    await minio?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the Secret holds temporary keys with a session token, not the admin credential, and says when they expire', () => {
    const secret = secrets.get('b-storage');
    assert.ok(secret?.stringData);
    assert.deepEqual(Object.keys(secret.stringData).sort(), [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN'
    ]);
    assert.notEqual(secret.stringData.AWS_ACCESS_KEY_ID, minio.config.accessKey);
    assert.notEqual(secret.stringData.AWS_SECRET_ACCESS_KEY, minio.config.secretKey);
    assert.equal(secret.metadata?.namespace, 'default');
    assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, 'uid-b');
    const expires = Date.parse(secret.metadata?.annotations?.['ringtrain.dev/credentials-expire-at'] ?? '');
    assert.ok(expires > Date.now() + 800_000 && expires < Date.now() + 1_000_000, 'about 900 s from now');
  });

  for (const [me, other] of [
    ['b', 'a'],
    ['a', 'b']
  ] as const) {
    it(`${me}'s credentials read ${me}'s dataset and write ${me}'s output and checkpoints`, async () => {
      assert.equal((await (await storeOf(me, 'datasets', me)).get('manifest.json')).toString(), `{"dataset":"${me}"}`);
      const output = await storeOf(me, 'runs', me);
      assert.equal((await output.get('run-record.json')).toString(), `{"run":"${me}"}`);
      await output.put('run-record.json', Buffer.from(`{"run":"${me}","step":2}`));
      await output.put('checkpoints/slot-0.ckpt', Buffer.from('weights'));
      await output.put('model/model.safetensors', Buffer.from('model'));
      // A real checkpoint (ResNet18 with Adam's moments, ~135 MB) goes up in parts: the client first looks for an
      // upload of that key to resume, a bucket-level request (found by the kind suite: AccessDenied at step 15).
      await output.put('checkpoints/slot-1.ckpt', Buffer.alloc(65 * 1024 * 1024, 1));
      assert.deepEqual(
        (await output.list('checkpoints/')).map((o) => o.key),
        ['checkpoints/latest.json', 'checkpoints/slot-0.ckpt', 'checkpoints/slot-1.ckpt']
      );
    });

    it(`${me}'s credentials get AccessDenied on ${other}'s dataset, output, checkpoints and run record`, async () => {
      const theirs = await storeOf(me, 'runs', other);
      await denied(theirs.get('run-record.json'));
      await denied(theirs.put('run-record.json', Buffer.from('{"poisoned":true}')));
      await denied(theirs.get('checkpoints/latest.json'));
      await denied(theirs.put('checkpoints/latest.json', Buffer.from('{"poisoned":true}')));
      await denied(theirs.list(''));
      const theirDataset = await storeOf(me, 'datasets', other);
      await denied(theirDataset.get('manifest.json'));
      await denied(theirDataset.put('manifest.json', Buffer.from('{}')));
      // Its own dataset is read-only: a run cannot poison the data other runs train on.
      await denied((await storeOf(me, 'datasets', me)).put('manifest.json', Buffer.from('{}')));
      // The whole bucket is not listable, nor writable at its root.
      await denied((await storeOf(me, 'runs', '')).list(''));
      await denied((await storeOf(me, 'runs', '')).put('stray.json', Buffer.from('{}')));
    });
  }

  it("a prefix is a folder: b's keys do not reach runs/bb", async () => {
    const sibling = await storeOf('b', 'runs', 'bb');
    await denied(sibling.get('run-record.json'));
    await denied(sibling.put('run-record.json', Buffer.from('{}')));
  });

  it('the root credential after A was left intact by every refused write', async () => {
    const root = new S3Store('runs', 'a', minio.config);
    assert.match((await root.get('run-record.json')).toString(), /^\{"run":"a"/);
    assert.equal((await root.get('checkpoints/latest.json')).toString(), '{"run":"a"}');
  });

  it('renews at half the lifetime and mints again when the run’s URIs change, not before', async () => {
    let clock = Date.now();
    let mints = 0;
    const written: V1Secret[] = [];
    const counting = new StorageCredentialsMinter(
      { endpoint: minio.config.endpoint, credentialsDir: adminDir, durationSeconds: 900 },
      async (secret) => void written.push(secret),
      async (...args) => {
        mints += 1;
        return assumeRole(...args);
      },
      () => clock
    );
    const renewIn = await counting.ensure(run('a'));
    assert.ok(renewIn > 400_000 && renewIn <= 450_000, `renews in about 450 s, got ${renewIn}`);
    await counting.ensure(run('a'));
    assert.equal(mints, 1, 'fresh credentials are not minted again');
    clock += renewIn;
    await counting.ensure(run('a'));
    assert.equal(mints, 2, 'due credentials are renewed');
    const moved = run('a');
    moved.spec.output.uri = 's3://runs/a-v2';
    await counting.ensure(moved);
    assert.equal(mints, 3, 'new prefixes, new policy');
    assert.equal(written.length, 3);
  });

  it('refuses a duration MinIO would refuse', () => {
    assert.throws(
      () =>
        new StorageCredentialsMinter(
          { endpoint: 'http://x', credentialsDir: adminDir, durationSeconds: 60 },
          async () => {}
        ),
      /900\.\.31536000 seconds/
    );
  });
});
