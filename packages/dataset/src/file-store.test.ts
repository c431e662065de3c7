import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FileStore } from './file-store.js';
import { openStore, readObject, writeObject } from './open-store.js';
import { storeContract } from './store-contract.test-helper.js';
import { StoreError } from './store-error.js';

describe('FileStore', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-file-store-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  storeContract(() => new FileStore(root));

  it('leaves no temporary file behind after a put', async () => {
    await new FileStore(root).put('tidy/file', Buffer.from('x'));
    assert.deepEqual(await readdir(path.join(root, 'tidy')), ['file']);
  });

  it('refuses keys that escape the root', async () => {
    await assert.rejects(
      new FileStore(root).get('../outside'),
      (error: unknown) => error instanceof StoreError && error.code === 'invalid'
    );
  });

  it('is what file:// URIs and plain paths open, and serves single-object reads and writes', async () => {
    const uri = `${pathToFileURL(root).href}/single/weights.bin`;
    await writeObject(uri, Buffer.from('weights'));
    assert.equal((await readObject(uri)).toString(), 'weights');
    assert.equal((await readObject(path.join(root, 'single', 'weights.bin'))).toString(), 'weights');
    assert.ok(openStore(root) instanceof FileStore);
  });

  it('rejects unknown schemes with the accepted ones named', () => {
    assert.throws(() => openStore('gs://bucket/x'), /s3:\/\/bucket\/prefix, file:\/\/\/path or http\(s\):\/\//);
  });
});
