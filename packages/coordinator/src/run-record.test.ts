import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStore } from '@ringtrain/dataset';
import { RunStateKey } from '@ringtrain/proto';
import { readRunRecord, RunRecordError, RUN_RECORD_KEY, writeRunRecord, type RunRecord } from './run-record.js';

const record: RunRecord = {
  version: 1,
  runId: 'run-a',
  state: 'running',
  reason: '',
  generation: 2,
  restarts: [{ generation: 0, reason: 'worker-1 (rank 1) was killed by SIGKILL', at: '2026-11-27T10:00:00.000Z' }],
  epochs: [
    {
      generation: 1,
      epoch: 0,
      trainLoss: 2.1,
      trainAccuracy: 0.3,
      valLoss: 1.9,
      valAccuracy: 0.4,
      valImages: 80,
      samplesTrained: 320,
      sampleChecksum: '1:2',
      samplesDropped: 0,
      seconds: 12.5,
      imagesPerSecond: 25.6
    }
  ],
  checkpoints: [
    {
      key: 'checkpoints/step-00000010.safetensors',
      epoch: 1,
      globalStep: 10,
      samplesConsumed: 0,
      bytes: 1234,
      at: '2026-11-27T10:01:00.000Z'
    }
  ],
  startedAt: '2026-11-27T09:59:00.000Z',
  updatedAt: '2026-11-27T10:01:00.000Z'
};

test('a run record round-trips through the store, and a run without one reads as undefined', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-record-'));
  try {
    const store = new FileStore(dir);
    assert.equal(await readRunRecord(store, 'run-a'), undefined);
    await writeRunRecord(store, record);
    assert.deepEqual(await readRunRecord(store, 'run-a'), record);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("another run's record, or a damaged one, is refused with what to do", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-record-'));
  try {
    const store = new FileStore(dir);
    await writeRunRecord(store, record);
    await assert.rejects(
      readRunRecord(store, 'run-b'),
      (error: Error) =>
        error instanceof RunRecordError &&
        /holds the record of run run-a, not of run-b: give this run its own output URI/.test(error.message)
    );
    await writeFile(path.join(dir, RUN_RECORD_KEY), '{"version":1,"runId":"run-a"}');
    await assert.rejects(readRunRecord(store, 'run-a'), /is not a Ringtrain run record \(state: .*\): delete it/);
    await writeFile(path.join(dir, RUN_RECORD_KEY), 'not json');
    await assert.rejects(readRunRecord(store, 'run-a'), /is not JSON: delete it/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("with the run's key the record is signed; a changed, unsigned or foreign one is refused", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-record-'));
  const key = RunStateKey.fromToken('the-run-token-from-its-secret-0123');
  const refused = (pattern: RegExp) => (error: Error) => error instanceof RunRecordError && pattern.test(error.message);
  try {
    const store = new FileStore(dir);
    await writeRunRecord(store, record, key);
    const signed = await readRunRecord(store, 'run-a', RunStateKey.fromToken('the-run-token-from-its-secret-0123'));
    assert.deepEqual({ ...signed, hmac: undefined }, { ...record, hmac: undefined });
    assert.match(signed?.hmac ?? '', /^[0-9a-f]{64}$/);
    // A local run (no key) reads it as before.
    assert.equal((await readRunRecord(store, 'run-a'))?.generation, 2);

    const text = await readFile(path.join(dir, RUN_RECORD_KEY), 'utf8');
    await writeFile(path.join(dir, RUN_RECORD_KEY), text.replace('"generation": 2', '"generation": 900'));
    await assert.rejects(
      readRunRecord(store, 'run-a', key),
      refused(/does not carry a valid HMAC with this run's key: .*refusing to carry on its history/)
    );
    await writeRunRecord(store, record);
    await assert.rejects(readRunRecord(store, 'run-a', key), refused(/carries no HMAC/));
    await writeRunRecord(store, record, RunStateKey.fromToken('another-run-token-0123456789'));
    await assert.rejects(readRunRecord(store, 'run-a', key), refused(/does not carry a valid HMAC/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
