import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunStateKey } from '@ringtrain/proto';
import { CheckpointIntegrityError, CheckpointStore, type DataCursor } from './checkpoint-store.js';

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
  describe("with the run's key (a run the operator manages)", () => {
    const key = RunStateKey.fromToken('the-run-token-from-its-secret-0123');
    const integrity = (pattern: RegExp) => (error: unknown) =>
      error instanceof CheckpointIntegrityError && pattern.test(error.message);
    const rewritePointer = async (dir: string, change: (pointer: Record<string, unknown>) => void) => {
      const pointer = JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8')) as Record<string, unknown>;
      change(pointer);
      await writeFile(path.join(dir, 'latest.json'), JSON.stringify(pointer));
    };

    it('signs the pointer, and a restarted rank with the same key resumes from it', async () => {
      const dir = path.join(work, 'signed');
      const pointer = await new CheckpointStore(dir, 2, key).write('run-1', 3, cursor(24), Uint8Array.of(7, 8));
      assert.match(JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8')).hmac, /^[0-9a-f]{64}$/);
      const restarted = new CheckpointStore(dir, 2, RunStateKey.fromToken('the-run-token-from-its-secret-0123'));
      const latest = await restarted.latest();
      assert.deepEqual(latest, pointer);
      assert.deepEqual([...(await restarted.read(latest!))], [7, 8]);
      // A local run (no key) still reads it, by its SHA-256.
      assert.deepEqual(
        [...(await new CheckpointStore(dir, 2).read((await new CheckpointStore(dir, 2).latest())!))],
        [7, 8]
      );
    });

    it('refuses a pointer whose fields were changed (a later step, another cursor)', async () => {
      const dir = path.join(work, 'tampered-pointer');
      const store = new CheckpointStore(dir, 2, key);
      await store.write('run-1', 3, cursor(24), Uint8Array.of(7, 8));
      await rewritePointer(dir, (pointer) => (pointer.globalStep = 300));
      await assert.rejects(
        store.latest(),
        integrity(/latest\.json does not carry a valid HMAC with this run's key: .*refusing to resume from it/)
      );
    });

    it('refuses weights swapped with their SHA-256 recomputed in the pointer: the pointer no longer verifies', async () => {
      const dir = path.join(work, 'poisoned');
      const store = new CheckpointStore(dir, 2, key);
      const pointer = await store.write('run-1', 3, cursor(24), Uint8Array.of(7, 8));
      await writeFile(path.join(dir, pointer.key), Buffer.of(6, 6));
      await assert.rejects(
        store.read((await store.latest())!),
        integrity(/does not have the SHA-256 its pointer records/)
      );
      await rewritePointer(dir, (p) => (p.sha256 = createHash('sha256').update(Buffer.of(6, 6)).digest('hex')));
      await assert.rejects(store.latest(), integrity(/does not carry a valid HMAC/));
    });

    it('refuses an unsigned pointer, and one signed with another run’s key', async () => {
      const unsigned = path.join(work, 'unsigned');
      await new CheckpointStore(unsigned, 2).write('run-1', 3, cursor(24), Uint8Array.of(7, 8));
      await assert.rejects(new CheckpointStore(unsigned, 2, key).latest(), integrity(/carries no HMAC/));
      const foreign = path.join(work, 'foreign');
      await new CheckpointStore(foreign, 2, RunStateKey.fromToken('another-run-token-0123456789')).write(
        'run-1',
        3,
        cursor(24),
        Uint8Array.of(1)
      );
      await assert.rejects(new CheckpointStore(foreign, 2, key).latest(), integrity(/does not carry a valid HMAC/));
    });
  });
});
