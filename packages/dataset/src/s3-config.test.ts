import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { s3ConfigFromEnv } from './s3-config.js';

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

  it('reads keys from a mounted Secret directory, trimming the trailing newline', () => {
    const config = s3ConfigFromEnv({
      AWS_ENDPOINT_URL: 'https://s3.example',
      RINGTRAIN_S3_CREDENTIALS_DIR: secretDir,
      AWS_ACCESS_KEY_ID: ''
    });
    assert.equal(config.accessKey, 'from-secret');
    assert.equal(config.secretKey, 'shh');
    assert.equal(config.pathStyle, true);
    assert.equal(config.region, 'us-east-1');
  });

  it('says which variable to set when something is missing or malformed', () => {
    assert.throws(
      () => s3ConfigFromEnv({ AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'k' }),
      /set RINGTRAIN_S3_ENDPOINT/
    );
    assert.throws(
      () => s3ConfigFromEnv({ RINGTRAIN_S3_ENDPOINT: 'http://m:9000' }),
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or RINGTRAIN_S3_CREDENTIALS_DIR/
    );
    assert.throws(() => s3ConfigFromEnv({ RINGTRAIN_S3_ENDPOINT: 'not a url' }), /RINGTRAIN_S3_ENDPOINT/);
    assert.throws(
      () => s3ConfigFromEnv({ RINGTRAIN_S3_ENDPOINT: 'http://m:9000', RINGTRAIN_S3_CREDENTIALS_DIR: '/nonexistent' }),
      /cannot read S3 credential \/nonexistent\/AWS_ACCESS_KEY_ID/
    );
  });
});
