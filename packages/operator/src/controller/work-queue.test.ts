import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), 'a');
    assert.equal(await queue.get(), 'b');
  });

  it('never hands a key being processed to a second worker, and processes it again after done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const key = await queue.get();
    queue.add('a');
    assert.equal(queue.length, 0, 'not queued while processing');
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await sleep(5);
    assert.equal(second, undefined);
    queue.done(key ?? '');
    await sleep(1);
    assert.equal(second, 'a');
  });

  it('backs off failures exponentially per key until forget', () => {
    const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => queue.addRateLimited('a')),
      [10, 20, 40, 50]
    );
    assert.equal(queue.addRateLimited('b'), 10);
    queue.forget('a');
    assert.equal(queue.failuresOf('a'), 0);
    queue.shutDown();
  });

  it('keeps the soonest of several timers for one key', async () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 10_000);
    queue.addAfter('a', 20);
    const started = Date.now();
    assert.equal(await queue.get(), 'a');
    assert.ok(Date.now() - started < 1000);
    queue.shutDown();
  });

  it('releases waiting workers with undefined on shut down', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add('late');
    assert.equal(await queue.get(), undefined);
  });
});
