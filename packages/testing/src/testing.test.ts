import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { eventually, freePort, GaveUp } from './index.js';

test('freePort gives a port a server can then listen on', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65_536);
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => server.close(resolve));
});

test('eventually returns the first value, and a timeout names what was awaited, the last error and the state', async () => {
  let calls = 0;
  assert.equal(
    await eventually('the third call', async () => (++calls === 3 ? 'done' : undefined), { intervalMs: 1 }),
    'done'
  );
  await assert.rejects(
    eventually(
      'a pod to run',
      async () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 30, intervalMs: 5, describe: async () => 'phase Pending' }
    ),
    /timed out waiting for a pod to run: Error: connection refused; phase Pending/
  );
});

test('a check that throws GaveUp ends the wait at once, saying why', async () => {
  const started = Date.now();
  await assert.rejects(
    eventually(
      'phase Succeeded',
      async () => {
        throw new GaveUp('the run Failed');
      },
      { timeoutMs: 10_000, describe: async () => 'attempt 2' }
    ),
    /gave up waiting for phase Succeeded: the run Failed; attempt 2/
  );
  assert.ok(Date.now() - started < 1_000);
});
