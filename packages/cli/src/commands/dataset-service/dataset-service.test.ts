import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  DatasetServiceConnection,
  FileStore,
  manifestFormatVersion,
  manifestKey,
  type Manifest
} from '@ringtrain/dataset';
import { freePort } from '@ringtrain/testing';

const bin = fileURLToPath(new URL('../../../bin/ringtrain.mjs', import.meta.url));

describe('ringtrain dataset-service', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-cli-service-'));
    // A manifest is all the service reads; its shards are the loader's business.
    const manifest: Manifest = {
      formatVersion: manifestFormatVersion,
      classes: ['a'],
      splits: {
        train: {
          count: 10,
          classCounts: [10],
          shards: [
            { key: 'train/shard-00000.rtshard', firstSample: 0, sampleCount: 10, bytes: 100, sha256: 'a'.repeat(64) }
          ]
        },
        val: { count: 0, classCounts: [0], shards: [] }
      },
      ingest: { seed: 0, valFraction: 0, maxResolution: null, shardSizeBytes: 100, corrupt: [] }
    };
    await new FileStore(path.join(work, 'ds')).put(manifestKey, Buffer.from(JSON.stringify(manifest)));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('serves plans for the datasets it was given until SIGTERM, then exits 0', async () => {
    const port = await freePort();
    const dataset = pathToFileURL(path.join(work, 'ds')).href;
    const child = spawn(
      process.execPath,
      [bin, 'dataset-service', '--dataset', dataset, '--host', '127.0.0.1', '--port', String(port)],
      { stdio: ['ignore', 'ignore', 'pipe'] }
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new DatasetServiceConnection(`127.0.0.1:${port}`);
    try {
      const deadline = Date.now() + 20_000;
      while (!stderr.includes('listening') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const plan = await client.getEpochPlan({
        dataset,
        split: 'train',
        seed: 1,
        epoch: 0,
        worldSize: 2,
        rank: 0,
        batchSize: 2,
        samplesConsumed: 0,
        remainder: 'drop',
        partitions: 2
      });
      assert.equal(plan.samples.length, 5);
      assert.equal(plan.epochSamples, 10);
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM, draining/);
  });
});
