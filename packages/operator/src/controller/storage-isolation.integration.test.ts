import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { S3Store, StoreError } from '@ringtrain/dataset';
import { eventually, startMinio, type MinioTestServer } from '@ringtrain/testing';
import type { CoordinatorReport } from '../reconcile/plan.js';
import { startOperator, type RunningOperator } from './operator.js';
import {
  createRun,
  namespace,
  operatorOptions,
  podsOf,
  runBody,
  runStatus,
  startKubeWithTrainingRuns,
  type KubeWithTrainingRuns
} from './training-runs.test-helper.js';

/**
 * The operator with the cluster's store (a real MinIO) and its admin credential: each run's namespace gets a
 * Secret of credentials minted for that run alone, mounted where the pods read credentials, and never the
 * store's root credential; a run that would write into another's output is refused before anything is created.
 */
describe('storage isolation: the operator against a real kube-apiserver and MinIO', { timeout: 300_000 }, () => {
  let kube: KubeWithTrainingRuns['kube'];
  let core: KubeWithTrainingRuns['core'];
  let minio: MinioTestServer;
  let operator: RunningOperator | undefined;
  let work = '';
  const progress = new Map<string, CoordinatorReport>();

  const start = async (adminDir = 'admin') => {
    operator = await startOperator({
      ...operatorOptions(kube, progress),
      storeAdmin: { endpoint: minio.config.endpoint, credentialsDir: path.join(work, adminDir), durationSeconds: 900 }
    });
    await operator.leading;
  };

  const secretsInNamespace = async (): Promise<V1Secret[]> => (await core.listNamespacedSecret({ namespace })).items;
  const decoded = (secret: V1Secret) =>
    Object.values(secret.data ?? {}).map((value) => Buffer.from(value, 'base64').toString('utf8'));

  before(async () => {
    ({ kube, core } = await startKubeWithTrainingRuns());
    minio = await startMinio();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-isolation-'));
    await mkdir(path.join(work, 'admin'));
    await writeFile(path.join(work, 'admin', 'AWS_ACCESS_KEY_ID'), minio.config.accessKey);
    await writeFile(path.join(work, 'admin', 'AWS_SECRET_ACCESS_KEY'), minio.config.secretKey);
    for (const bucket of ['datasets', 'runs']) await new S3Store(bucket, '', minio.config).ensureBucket();
    await new S3Store('runs', 'other', minio.config).put('run-record.json', Buffer.from('{"run":"other"}'));
    await start();
  });
  after(async () => {
    await operator?.stop();
    await kube?.stop();
    await minio?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("creates the run's credentials Secret, owned by the run and mounted by its pods; no root credential in the namespace", async () => {
    const created = await createRun(runBody('tenant-a', { storage: { endpoint: minio.config.endpoint } }));
    const pods = await eventually('3 pods', async () => {
      const list = await podsOf('tenant-a');
      return list.length === 3 ? list : undefined;
    });
    const secret = await core.readNamespacedSecret({ namespace, name: 'tenant-a-storage' });
    assert.deepEqual(
      secret.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]),
      [['TrainingRun', 'tenant-a', created.metadata?.uid]]
    );
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN'
    ]);
    for (const pod of pods) {
      const container = pod.spec?.containers[0];
      const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
      const mount = container?.volumeMounts?.find((m) => m.mountPath === env.RINGTRAIN_S3_CREDENTIALS_DIR);
      assert.ok(mount, `${pod.metadata?.name} mounts its credentials where RINGTRAIN_S3_CREDENTIALS_DIR says`);
      assert.equal(
        env.RINGTRAIN_HMAC_FROM_TOKEN,
        'true',
        'checkpoints and run-record.json are signed with the run key'
      );
      const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.secret?.secretName, 'tenant-a-storage');
    }
    for (const each of await secretsInNamespace()) {
      for (const value of decoded(each)) {
        assert.notEqual(value, minio.config.secretKey, `Secret ${each.metadata?.name} holds the root password`);
        assert.notEqual(value, minio.config.accessKey, `Secret ${each.metadata?.name} holds the root user`);
      }
    }
    // What the pods would do with it: their own output yes, another run's no.
    const [accessKey, secretKey, sessionToken] = [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN'
    ].map((key) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8')) as [string, string, string];
    const { endpoint, region, pathStyle } = minio.config;
    const as = (prefix: string) =>
      new S3Store(
        'runs',
        prefix,
        { endpoint, region, pathStyle, accessKey, secretKey, sessionToken },
        {
          deadlineMs: 500,
          baseDelayMs: 50,
          maxDelayMs: 50
        }
      );
    await as('tenant-a').put('run-record.json', Buffer.from('{}'));
    await assert.rejects(
      as('other').get('run-record.json'),
      (error) => error instanceof StoreError && error.code === 'access-denied'
    );
  });

  it('a restarted operator mints again and replaces the Secret (create, then update: it never reads Secrets)', async () => {
    const before = await core.readNamespacedSecret({ namespace, name: 'tenant-a-storage' });
    await operator?.stop();
    await start();
    const renewed = await eventually('the Secret replaced', async () => {
      const secret = await core.readNamespacedSecret({ namespace, name: 'tenant-a-storage' });
      return secret.data?.AWS_ACCESS_KEY_ID !== before.data?.AWS_ACCESS_KEY_ID ? secret : undefined;
    });
    assert.equal(renewed.metadata?.ownerReferences?.[0]?.name, 'tenant-a');
    assert.ok(Date.parse(renewed.metadata?.annotations?.['ringtrain.dev/credentials-expire-at'] ?? '') > Date.now());
  });

  it('refuses a run whose output lies within another run’s, before creating anything (OutputURIInUse)', async () => {
    await createRun(
      runBody('tenant-b', { output: { uri: 's3://runs/tenant-a/b' }, storage: { endpoint: minio.config.endpoint } })
    );
    const status = await eventually(
      'tenant-b Failed',
      runStatus('tenant-b', (s) => s.phase === 'Failed')
    );
    const failed = status.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'OutputURIInUse');
    assert.match(
      failed?.message ?? '',
      /lies within s3:\/\/runs\/tenant-a, the output of TrainingRun default\/tenant-a/
    );
    assert.deepEqual(await podsOf('tenant-b'), []);
    assert.ok(!(await secretsInNamespace()).some((s) => s.metadata?.name?.startsWith('tenant-b')));
  });

  it('an operator that cannot mint says why in a Warning event and creates no pod until it can', async () => {
    await operator?.stop();
    await mkdir(path.join(work, 'wrong-admin'));
    await writeFile(path.join(work, 'wrong-admin', 'AWS_ACCESS_KEY_ID'), minio.config.accessKey);
    await writeFile(path.join(work, 'wrong-admin', 'AWS_SECRET_ACCESS_KEY'), 'not-the-password');
    await start('wrong-admin');
    await createRun(runBody('tenant-c', { storage: { endpoint: minio.config.endpoint } }));
    const event = await eventually('a StorageCredentialsFailed event', async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=tenant-c' });
      return events.items.find((e) => e.reason === 'StorageCredentialsFailed');
    });
    assert.equal(event.type, 'Warning');
    assert.match(event.message ?? '', /cannot mint the run's storage credentials; retrying: .*STS AssumeRole/);
    assert.deepEqual(await podsOf('tenant-c'), []);
    await operator?.stop();
    await start();
    await eventually('tenant-c pods once the credential is right', async () =>
      (await podsOf('tenant-c')).length === 3 ? true : undefined
    );
  });
});
