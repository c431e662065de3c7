import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpStore } from './http-store.js';
import { readObject } from './open-store.js';
import { StoreError } from './store-error.js';

describe('HttpStore', () => {
  let server: Server;
  let base = '';
  let flakyCalls = 0;
  before(async () => {
    server = createServer((request, response) => {
      if (request.url === '/files/weights.bin') return void response.end(Buffer.from('weights-bytes'));
      if (request.url === '/files/flaky') {
        flakyCalls += 1;
        response.statusCode = flakyCalls < 2 ? 503 : 200;
        return void response.end('eventually');
      }
      if (request.url === '/files/secret') return void response.writeHead(403).end();
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const fast = { deadlineMs: 1_000, baseDelayMs: 1, maxDelayMs: 2 };

  it('reads a single object named by a full URL', async () => {
    assert.equal((await readObject(`${base}/weights.bin`)).toString(), 'weights-bytes');
  });

  it('retries 5xx answers', async () => {
    assert.equal((await new HttpStore(base, fast).get('flaky')).toString(), 'eventually');
  });

  it('maps 404 and 403 to permanent errors naming the URL', async () => {
    const store = new HttpStore(base, fast);
    await assert.rejects(
      store.get('missing'),
      (error: unknown) =>
        error instanceof StoreError && error.code === 'not-found' && error.message.includes('/files/missing')
    );
    await assert.rejects(
      store.get('secret'),
      (error: unknown) => error instanceof StoreError && error.code === 'access-denied'
    );
    assert.equal(await store.stat('missing'), undefined);
  });

  it('is read-only', async () => {
    await assert.rejects(new HttpStore(base).put('x'), /read-only/);
  });
});
