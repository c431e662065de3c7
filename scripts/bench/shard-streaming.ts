// Shard streaming vs raw GET from the same MinIO, in the same run (issue 4's ">= 80% of raw GET" check).
// Starts a MinIO from scripts/install-minio.sh on 127.0.0.1, ingests an ImageFolder into it, then alternates:
//   raw:    minio client GET of every shard object, bytes discarded (the ceiling)
//   hashed: the same GET with sha256 over the bytes, nothing written (what verification alone costs)
//   shards: the loader's ShardCache fetching the same objects (stream + sha256 + write to local disk)
// both with the same number of parallel downloads. Prints one JSON object.
//
//   npx tsx scripts/bench/shard-streaming.ts <image-folder> [--shard-size-mib 8] [--parallel 4] [--rounds 3]
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'minio';
import pLimit from 'p-limit';
import { ingest, S3Store, ShardCache } from '@ringtrain/dataset';
import { startMinio } from '@ringtrain/testing';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'shard-size-mib': { type: 'string', default: '8' },
    parallel: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' }
  }
});
const source = positionals[0];
if (!source)
  throw new Error('usage: shard-streaming.ts <image-folder> [--shard-size-mib 8] [--parallel 4] [--rounds 3]');
const parallel = Number(values.parallel);

const minio = await startMinio();
const work = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-stream-bench-'));
try {
  const store = new S3Store('bench', 'ds', minio.config);
  await store.ensureBucket();
  const { manifest } = await ingest({
    source,
    to: 's3://bench/ds',
    store,
    valFraction: 0,
    shardSizeBytes: Number(values['shard-size-mib']) * 2 ** 20
  });
  const shards = manifest.splits.train.shards;
  const totalBytes = shards.reduce((sum, shard) => sum + shard.bytes, 0);
  const endpoint = new URL(minio.config.endpoint);
  const client = new Client({
    endPoint: endpoint.hostname,
    port: Number(endpoint.port),
    useSSL: false,
    accessKey: minio.config.accessKey,
    secretKey: minio.config.secretKey,
    region: minio.config.region,
    pathStyle: true
  });

  const get = async (hashed: boolean): Promise<number> => {
    const limit = pLimit(parallel);
    const started = performance.now();
    await Promise.all(
      shards.map((shard) =>
        limit(async () => {
          const hash = hashed ? createHash('sha256') : undefined;
          for await (const chunk of await client.getObject('bench', `ds/${shard.key}`)) hash?.update(chunk as Buffer);
          hash?.digest();
        })
      )
    );
    return totalBytes / ((performance.now() - started) / 1000);
  };
  const streamed = async (round: number): Promise<number> => {
    const cache = new ShardCache({
      store,
      dir: path.join(work, `cache-${round}`),
      maxBytes: 2 * totalBytes,
      downloadConcurrency: parallel
    });
    const started = performance.now();
    await Promise.all(shards.map(async (shard) => (await cache.acquire(shard)).release()));
    return totalBytes / ((performance.now() - started) / 1000);
  };

  const rawRuns: number[] = [];
  const hashedRuns: number[] = [];
  const shardRuns: number[] = [];
  for (let round = 0; round < Number(values.rounds); round += 1) {
    rawRuns.push(await get(false));
    hashedRuns.push(await get(true));
    shardRuns.push(await streamed(round));
  }
  const median = (runs: number[]) => [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  const result = {
    shards: shards.length,
    totalBytes,
    parallel,
    rawGetBytesPerSec: median(rawRuns),
    hashedGetBytesPerSec: median(hashedRuns),
    shardStreamBytesPerSec: median(shardRuns),
    ratio: median(shardRuns) / median(rawRuns),
    hashedRatio: median(hashedRuns) / median(rawRuns),
    // Each round runs raw then shards back to back: the median of paired ratios is steadier on shared cores.
    pairedRatio: median(shardRuns.map((value, round) => value / rawRuns[round]!)),
    rawRuns,
    hashedRuns,
    shardRuns
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await minio.stop();
  await rm(work, { recursive: true, force: true });
}
