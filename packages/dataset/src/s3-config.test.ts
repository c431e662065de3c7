import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { s3ConfigFromEnv } from './s3-config.js';
import { RefreshingCredentials } from './s3-credentials.js';

describe('s3ConfigFromEnv', () => {
  let secretDir = '';
  before(async () => {
    secretDir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-secret-'));
    await writeFile(path.join(secretDir, 'AWS_ACCESS_KEY_ID'), 'from-secret\n');
    await writeFile(path.join(secretDir, 'AWS_SECRET_ACCESS_KEY'), 'shh\n');
  });
  after(() => rm(secretDir, { recursive: true, force: true }));

  it('reads endpoint, region, path style and keys from the environment', () => {
    const config = s3ConfigFromEnv({
      RINGTRAIN_S3_ENDPOINT: 'http://minio:9000',
      AWS_REGION: 'eu-west-1',
      RINGTRAIN_S3_PATH_STYLE: 'false',
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'key'
    });
    assert.deepEqual(config, {
      endpoint: 'http://minio:9000',
      region: 'eu-west-1',
      pathStyle: false,
      accessKey: 'id',
      secretKey: 'key'
    });
  });

  it('re-reads keys from a mounted Secret directory (rotation), trimming the trailing newline', async () => {
    const config = s3ConfigFromEnv({
      AWS_ENDPOINT_URL: 'https://s3.example',
      RINGTRAIN_S3_CREDENTIALS_DIR: secretDir,
      AWS_ACCESS_KEY_ID: ''
    });
    assert.deepEqual('credentialSource' in config && config.credentialSource, {
      kind: 'mounted-secret',
      dir: secretDir
    });
    assert.equal(config.pathStyle, true);
    assert.equal(config.region, 'us-east-1');
    let clock = 0;
    const provider = new RefreshingCredentials(
      { kind: 'mounted-secret', dir: secretDir, refreshMs: 1000 },
      () => clock
    );
    assert.equal((await provider.getCredentials()).getAccessKey(), 'from-secret');
    await writeFile(path.join(secretDir, 'AWS_ACCESS_KEY_ID'), 'rotated\n');
    clock = 999;
    assert.equal((await provider.getCredentials()).getAccessKey(), 'from-secret', 'not before refreshMs');
    clock = 1000;
    assert.equal((await provider.getCredentials()).getAccessKey(), 'rotated');
    assert.equal((await provider.getCredentials()).getSecretKey(), 'shh');
  });

  it('without an endpoint is AWS S3 in the region, virtual-hosted; without keys, the AWS default chain', () => {
    const config = s3ConfigFromEnv({ AWS_REGION: 'eu-central-1' });
    assert.equal(config.endpoint, 'https://s3.eu-central-1.amazonaws.com');
    assert.equal(config.pathStyle, false);
    assert.deepEqual('credentialSource' in config && config.credentialSource, { kind: 'aws-default-chain' });
  });

  it('says which variable to set when something is missing or malformed', async () => {
    assert.throws(
      () => s3ConfigFromEnv({ AWS_ACCESS_KEY_ID: 'id' }),
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together/
    );
    assert.throws(() => s3ConfigFromEnv({ RINGTRAIN_S3_ENDPOINT: 'not a url' }), /RINGTRAIN_S3_ENDPOINT/);
    const missing = new RefreshingCredentials({ kind: 'mounted-secret', dir: '/nonexistent' });
    await assert.rejects(
      missing.getCredentials(),
      /cannot read \/nonexistent\/AWS_ACCESS_KEY_ID \(an S3 credential, RINGTRAIN_S3_CREDENTIALS_DIR\)/
    );
  });
});
