import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { S3Store } from './s3-store.js';
import { StoreError } from './store-error.js';

/** Real TCP servers that misbehave the way a wedged S3 endpoint does: silence, or a body that stops. */
async function listen(
  onConnection: (socket: Socket) => void
): Promise<{ server: Server; endpoint: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

describe('S3Store timeouts', () => {
  const servers: { server: Server; sockets: Set<Socket> }[] = [];
  let silent = '';
  let stalling = '';
  before(async () => {
    const a = await listen(() => {}); // accepts, never answers
    const b = await listen((socket) => {
      socket.once('data', () =>
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/octet-stream\r\n\r\nfirst bytes'
        )
      );
    });
    servers.push(a, b);
    silent = a.endpoint;
    stalling = b.endpoint;
  });
  after(async () => {
    for (const { server, sockets } of servers) {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  const config = { region: 'us-east-1', pathStyle: true, accessKey: 'k', secretKey: 's' };
  const retry = { deadlineMs: 1, baseDelayMs: 1, maxDelayMs: 2 };
  const timeouts = { requestMs: 300, idleMs: 300, putMs: 300 };

  it('gives up on a server that never answers, as a transient error, after retrying', async () => {
    const store = new S3Store('bucket', 'p', { ...config, endpoint: silent }, retry, timeouts);
    const started = Date.now();
    await assert.rejects(
      store.stat('k'),
      (error: unknown) =>
        error instanceof StoreError && error.code === 'transient' && /no answer within 300 ms/.test(error.message)
    );
    assert.ok(Date.now() - started < 5_000);
  });

  it('aborts a body that stops arriving instead of waiting forever', async () => {
    const store = new S3Store('bucket', 'p', { ...config, endpoint: stalling }, retry, timeouts);
    await assert.rejects(
      store.get('k'),
      (error: unknown) =>
        error instanceof StoreError && error.code === 'transient' && /no data for 300 ms mid-object/.test(error.message)
    );
  });
});
