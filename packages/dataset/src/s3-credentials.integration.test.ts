import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startMinio, type MinioTestServer } from '@ringtrain/testing';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import { S3Store } from './s3-store.js';

const noRetry = { deadlineMs: 1_000, baseDelayMs: 100, maxDelayMs: 100 };

/**
 * Credentials that are not static keys, against a real MinIO: a mounted Secret rotated under a running store,
 * and the AWS default chain, with MinIO's STS standing in for AWS's (temporary keys with a session token, served
 * the way EKS Pod Identity and ECS serve them: a container credentials endpoint).
 */
describe('S3 credentials that change while a store runs', () => {
  let minio: MinioTestServer;
  let secretDir = '';
  before(async () => {
    minio = await startMinio();
    await new S3Store('creds', '', minio.config).ensureBucket();
    secretDir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-rotated-'));
  });
  after(async () => {
    await minio?.stop();
    if (secretDir) await rm(secretDir, { recursive: true, force: true });
  });

  const mount = async (accessKey: string, secretKey: string) => {
    await writeFile(path.join(secretDir, 'AWS_ACCESS_KEY_ID'), `${accessKey}\n`);
    await writeFile(path.join(secretDir, 'AWS_SECRET_ACCESS_KEY'), `${secretKey}\n`);
  };

  it('a rotated mounted Secret is read again without a restart', async () => {
    const { endpoint, region, pathStyle, accessKey, secretKey } = minio.config;
    await mount(accessKey, 'not-the-secret');
    const store = new S3Store(
      'creds',
      'rotation',
      { endpoint, region, pathStyle, credentialSource: { kind: 'mounted-secret', dir: secretDir, refreshMs: 200 } },
      noRetry
    );
    await assert.rejects(store.put('a', Buffer.from('a')), /credential|signature|denied|access/i);
    await mount(accessKey, secretKey);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await store.put('a', Buffer.from('after rotation'));
    assert.equal((await store.get('a')).toString(), 'after rotation');
  });

  it('without keys, the AWS default chain: temporary credentials from a container credentials endpoint', async () => {
    const { endpoint, region, pathStyle, accessKey, secretKey } = minio.config;
    const sts = new AssumeRoleProvider({ stsEndpoint: endpoint, accessKey, secretKey, region, durationSeconds: 900 });
    let served = 0;
    const server = http.createServer((request, response) => {
      void (async () => {
        served += 1;
        const temporary = await sts.getCredentials();
        assert.equal(request.headers.authorization, 'pod-identity-token');
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            AccessKeyId: temporary.getAccessKey(),
            SecretAccessKey: temporary.getSecretKey(),
            Token: temporary.getSessionToken(),
            Expiration: new Date(Date.now() + 15 * 60_000).toISOString()
          })
        );
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tokenFile = path.join(secretDir, 'pod-identity-token');
    await writeFile(tokenFile, 'pod-identity-token');
    const saved = { ...process.env };
    // What EKS Pod Identity puts in a pod; the SDK accepts a plain-http full URI on loopback only.
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${(server.address() as AddressInfo).port}/creds`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokenFile;
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE'])
      delete process.env[name];
    try {
      const store = new S3Store(
        'creds',
        'chain',
        { endpoint, region, pathStyle, credentialSource: { kind: 'aws-default-chain' } },
        noRetry
      );
      await store.put('b', Buffer.from('through the chain'));
      assert.equal((await store.get('b')).toString(), 'through the chain');
      assert.equal(served, 1, 'fetched once, and kept until near its expiry');
    } finally {
      process.env = saved;
      server.close();
    }
  });
});
