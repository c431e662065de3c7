import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. For servers that must be told their port up front (a
 * restarted coordinator on the same address, etcd, MinIO); anything that can listen on port 0 should.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port was assigned'))
      );
    });
  });
}
