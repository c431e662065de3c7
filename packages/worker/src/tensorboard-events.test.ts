import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { openStore, type ObjectStore } from '@ringtrain/dataset';
import { crc32c, encodeEventRecords, frameRecord, maskedCrc32c } from './tensorboard-events.js';
import { TENSORBOARD_DIR, TensorBoardWriter } from './tensorboard-writer.js';

const TENSORBOARD_VERSION = '2.21.0';
/** Where scripts/install-python-reference.sh installs the pinned tensorboard (its reader needs no TensorFlow). */
const TENSORBOARD_PYTHON = path.join(
  process.env.RINGTRAIN_CACHE ?? path.join(os.homedir(), '.cache', 'ringtrain'),
  'python',
  `tensorboard-${TENSORBOARD_VERSION}`,
  'bin',
  'python'
);

/**
 * Reads event files with TensorBoard's own code and prints JSON: `files`, each file's events as
 * EventFileLoader yields them (simple_value already migrated to the scalars plugin's tensors, as TensorBoard
 * shows them), and `scalars`, what EventAccumulator makes of the whole directory (file order, restarts).
 */
const READER = `
import json, os, sys
from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.util import tensor_util
directory = sys.argv[1]
files = []
for name in sorted(os.listdir(directory)):
    events = []
    for event in event_file_loader.EventFileLoader(os.path.join(directory, name)).Load():
        entry = {"wall_time": event.wall_time, "step": event.step, "what": event.WhichOneof("what")}
        if entry["what"] == "file_version":
            entry["file_version"] = event.file_version
        if entry["what"] == "session_log":
            entry["status"] = event.session_log.status
        if entry["what"] == "summary":
            entry["values"] = [
                {"tag": v.tag, "plugin": v.metadata.plugin_data.plugin_name,
                 "value": float(tensor_util.make_ndarray(v.tensor))}
                for v in event.summary.value
            ]
        events.append(entry)
    files.append({"name": name, "events": events})
accumulator = event_accumulator.EventAccumulator(directory)
accumulator.Reload()
scalars = {tag: [[s.step, s.value] for s in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
print(json.dumps({"files": files, "scalars": scalars}))
`;

interface ReadBack {
  files: {
    name: string;
    events: {
      wall_time: number;
      step: number;
      what: string;
      file_version?: string;
      status?: number;
      values?: { tag: string; plugin: string; value: number }[];
    }[];
  }[];
  scalars: Record<string, [number, number][]>;
}

async function readWithTensorBoard(directory: string): Promise<ReadBack> {
  if (!existsSync(TENSORBOARD_PYTHON))
    throw new Error(
      `TensorBoard's reader is not installed (${TENSORBOARD_PYTHON} is missing): run scripts/install-python-reference.sh`
    );
  const { stdout } = await promisify(execFile)(TENSORBOARD_PYTHON, ['-c', READER, directory], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    maxBuffer: 64 << 20
  });
  return JSON.parse(stdout) as ReadBack;
}

describe('TensorBoard event files', () => {
  let work = '';
  before(async () => (work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-tensorboard-'))));
  after(() => rm(work, { recursive: true, force: true }));

  it('checksums with CRC32C (Castagnoli) and masks them as TFRecord does', () => {
    // The check value of CRC-32C (RFC 3720, B.4) and of its masked form in TensorFlow's crc32c.h.
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    const crc = 0xe3069283;
    assert.equal(maskedCrc32c(Buffer.from('123456789')), (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
    const record = frameRecord(Buffer.from('abc'));
    assert.equal(record.readBigUInt64LE(0), 3n);
    assert.equal(record.subarray(12, 15).toString(), 'abc');
    assert.equal(record.length, 8 + 4 + 3 + 4);
  });

  it("TensorBoard's own reader reads every event we write: version, scalars as the scalars plugin's, steps and times", async () => {
    const directory = path.join(work, 'one-file');
    const store = openStore(directory);
    await store.put(
      'events.out.tfevents.1700000000.000.ringtrain.000000',
      encodeEventRecords([
        { kind: 'file-version', wallTime: 1_700_000_000.25 },
        {
          kind: 'scalars',
          wallTime: 1_700_000_001.5,
          step: 1,
          values: { 'train/loss': 2.25, 'train/accuracy': 0.125 }
        },
        { kind: 'scalars', wallTime: 1_700_000_002.5, step: 300_000_000_000, values: { 'train/loss': 1.5 } }
      ])
    );
    const read = await readWithTensorBoard(directory);
    assert.equal(read.files.length, 1);
    const [version, first, second] = read.files[0]!.events;
    assert.deepEqual(version, {
      wall_time: 1_700_000_000.25,
      step: 0,
      what: 'file_version',
      file_version: 'brain.Event:2'
    });
    assert.deepEqual(first, {
      wall_time: 1_700_000_001.5,
      step: 1,
      what: 'summary',
      values: [
        { tag: 'train/loss', plugin: 'scalars', value: 2.25 },
        { tag: 'train/accuracy', plugin: 'scalars', value: 0.125 }
      ]
    });
    assert.equal(second!.step, 300_000_000_000, 'steps beyond 32 bits survive the varint');
    assert.deepEqual(read.scalars['train/loss'], [
      [1, 2.25],
      [300_000_000_000, 1.5]
    ]);
  });

  it('a writer restarted from a checkpoint: its files sort after the earlier ones and TensorBoard drops the redone steps', async () => {
    const directory = path.join(work, 'restart');
    const store = openStore(directory);
    const errors: unknown[] = [];
    let clock = 1_700_000_000_000;
    const first = await TensorBoardWriter.open({
      store,
      firstStep: 1,
      flushIntervalMs: 1_000,
      now: () => clock,
      onError: (error) => errors.push(error)
    });
    for (let step = 1; step <= 5; step += 1) {
      clock += 400; // a flush every third step or so, and one at close
      first.scalars(step, { 'train/loss': 10 - step, 'train/accuracy': Number.NaN });
    }
    await first.close();
    // The next generation's rank 0, on a node whose clock is behind: it resumes from the checkpoint at step 3.
    clock -= 60_000;
    const second = await TensorBoardWriter.open({
      store,
      firstStep: 4,
      now: () => clock,
      onError: (error) => errors.push(error)
    });
    for (let step = 4; step <= 6; step += 1) second.scalars(step, { 'train/loss': 100 + step });
    await second.close();
    assert.deepEqual(errors, []);

    const names = (await readdir(path.join(directory, TENSORBOARD_DIR))).sort();
    assert.ok(names.length >= 3, `${names.length} files`);
    assert.ok(names.every((name) => name.startsWith('events.out.tfevents.')));
    const read = await readWithTensorBoard(path.join(directory, TENSORBOARD_DIR));
    assert.deepEqual(
      read.files.map((file) => file.name),
      names
    );
    for (const file of read.files)
      assert.equal(file.events[0]!.what, 'file_version', `${file.name} starts with its version`);
    const restart = read.files.flatMap((file) => file.events).find((event) => event.what === 'session_log');
    assert.deepEqual([restart?.step, restart?.status], [4, 1], 'SessionLog.START at the first redone step');
    assert.deepEqual(read.scalars['train/loss'], [
      [1, 9],
      [2, 8],
      [3, 7],
      [4, 104],
      [5, 105],
      [6, 106]
    ]);
    assert.equal(read.scalars['train/accuracy'], undefined, 'a NaN is left out, not logged');
  });

  it('keeps the events of a failed write for the next flush', async () => {
    const errors: unknown[] = [];
    const written: string[] = [];
    let fail = true;
    const store: ObjectStore = {
      uri: 'memory://flaky',
      readOnly: false,
      get: () => Promise.reject(new Error('not used')),
      getStream: () => Promise.reject(new Error('not used')),
      stat: () => Promise.resolve(undefined),
      list: () => Promise.resolve([]),
      put: (key: string) => {
        if (fail) return Promise.reject(new Error('store down'));
        written.push(key);
        return Promise.resolve();
      }
    };
    const writer = await TensorBoardWriter.open({ store, firstStep: 1, onError: (error) => errors.push(error) });
    writer.scalars(1, { 'train/loss': 1 });
    await writer.flush();
    assert.equal(errors.length, 1);
    fail = false;
    writer.scalars(2, { 'train/loss': 0.5 });
    await writer.close();
    assert.equal(written.length, 1);
    assert.match(written[0]!, /^tb\/events\.out\.tfevents\.\d{10}\.\d{3}\.ringtrain\.000000$/);
  });
});
