import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFailure, prepareImage } from './prepare-image.js';
import { StoreError } from './store-error.js';
import { imageBytes } from './test-images.test-helper.js';

describe('prepareImage', () => {
  it('decodes what its reader returns, from a file or an object alike', async () => {
    const png = await imageBytes([10, 20, 30], 12, 8, 'png');
    assert.deepEqual(await prepareImage(() => Promise.resolve(png), undefined), { bytes: png, width: 12, height: 8 });
  });

  it('lists an image that vanished or cannot be decoded as a problem with that image', async () => {
    const vanished = await prepareImage(
      () => Promise.reject(new StoreError('not-found', 'no object at s3://raw/a/x.png', 's3://raw/a/x.png')),
      undefined
    );
    assert.match('reason' in vanished ? vanished.reason : '', /unreadable: no object/);
    const garbage = await prepareImage(() => Promise.resolve(Buffer.from('not an image')), undefined);
    assert.match('reason' in garbage ? garbage.reason : '', /not a JPEG, PNG or WebP/);
  });

  it('fails on a store that is down or refuses access, rather than leaving the image out of the dataset', async () => {
    for (const code of ['transient', 'access-denied', 'no-such-bucket'] as const) {
      const failure = new StoreError(code, `store says ${code}`, 's3://raw/a/x.png');
      await assert.rejects(
        prepareImage(() => Promise.reject(failure), undefined),
        (error: unknown) => error === failure
      );
    }
  });

  it("keeps sharp's words for a failed decode and drops libvips' varying detail, so manifest.json is the same every run", () => {
    assert.equal(
      decodeFailure(new Error('Input buffer has corrupt header: VipsJpeg: premature end of JPEG image')),
      'Input buffer has corrupt header'
    );
    assert.equal(
      decodeFailure(new Error('Input buffer has corrupt header:\nVipsJpeg: premature end')),
      'Input buffer has corrupt header'
    );
    assert.equal(
      decodeFailure(new Error('Input file contains unsupported image format')),
      'Input file contains unsupported image format'
    );
    assert.equal(decodeFailure('weird'), 'weird');
  });
});
