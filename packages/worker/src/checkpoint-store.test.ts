import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CheckpointStore, type DataCursor } from './checkpoint-store.js';

const cursor = (samplesConsumed: number): DataCursor => ({
  epoch: 1,
  samplesConsumed,
  trained: { count: samplesConsumed, indexSum: '10', indexSquareSum: '100', lossSum: 2.5, correct: 3, seconds: 1.5 }
});

describe('CheckpointStore', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-checkpoints-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('has no checkpoint until one is committed, then reads back the bytes and the exact cursor', async () => {
    const store = new CheckpointStore(path.join(work, 'a'), 3);
    assert.equal(await store.latest(), undefined);
    const pointer = await store.write('run-1', 7, cursor(64), Uint8Array.of(1, 2, 3));
    assert.deepEqual(await store.latest(), pointer);
    assert.deepEqual(pointer.cursor, cursor(64));
    assert.equal(pointer.globalStep, 7);
    assert.deepEqual([...(await store.read(pointer))], [1, 2, 3]);
  });

  it('keeps the last M checkpoints in a ring of slots; the pointer always names the newest', async () => {
    const store = new CheckpointStore(path.join(work, 'b'), 2);
    const keys: string[] = [];
    for (let step = 1; step <= 5; step += 1)
      keys.push((await store.write('run-1', step, cursor(step * 8), Uint8Array.of(step))).key);
    assert.deepEqual(keys, ['slot-0.ckpt', 'slot-1.ckpt', 'slot-0.ckpt', 'slot-1.ckpt', 'slot-0.ckpt']);
    assert.deepEqual((await readdir(path.join(work, 'b'))).filter((name) => !name.startsWith('.')).sort(), [
      'latest.json',
      'slot-0.ckpt',
      'slot-1.ckpt'
    ]);
    const latest = (await store.latest())!;
    assert.equal(latest.globalStep, 5);
    assert.deepEqual([...(await store.read(latest))], [5]);
  });

  it('refuses a checkpoint whose size disagrees with its pointer, and a pointer that is not one', async () => {
    const dir = path.join(work, 'c');
    const store = new CheckpointStore(dir, 2);
    const pointer = await store.write('run-1', 1, cursor(8), Uint8Array.of(1, 2));
    await writeFile(path.join(dir, pointer.key), Buffer.of(9));
    await assert.rejects(store.read(pointer), /has 1 bytes, its pointer says 2: it was overwritten or damaged/);
    await writeFile(path.join(dir, 'latest.json'), '{"runId": 3}');
    await assert.rejects(store.latest(), /is not a Ringtrain checkpoint pointer .*delete it to start afresh/);
  });

  it('refuses a checkpoint changed after it was written, even at the same size (its SHA-256 is in the pointer)', async () => {
    const dir = path.join(work, 'e');
    const store = new CheckpointStore(dir, 2);
    const pointer = await store.write('run-1', 1, cursor(8), Uint8Array.of(1, 2, 3));
    assert.match(pointer.sha256 ?? '', /^[0-9a-f]{64}$/);
    await writeFile(path.join(dir, pointer.key), Buffer.of(1, 2, 4));
    await assert.rejects(store.read((await store.latest())!), /does not have the SHA-256 its pointer records/);
  });

  it('reads a pointer written when keys were relative to the output (checkpoints/slot-<k>.ckpt) as relative to its directory', async () => {
    const dir = path.join(work, 'd');
    const store = new CheckpointStore(dir, 2);
    const pointer = await store.write('run-1', 3, cursor(24), Uint8Array.of(4, 5));
    await writeFile(path.join(dir, 'latest.json'), JSON.stringify({ ...pointer, key: `checkpoints/${pointer.key}` }));
    const latest = (await store.latest())!;
    assert.equal(latest.key, 'slot-0.ckpt');
    assert.deepEqual([...(await store.read(latest))], [4, 5]);
    assert.equal(
      (await store.write('run-1', 4, cursor(32), Uint8Array.of(6))).key,
      'slot-1.ckpt',
      'the ring carries on'
    );
  });
});
