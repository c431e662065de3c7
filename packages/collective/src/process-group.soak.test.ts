import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CollectiveEndpoint, ProcessGroup } from './index.js';

test('1,000 repeated all-reduces allocate no new send buffers and keep RSS flat', { timeout: 120_000 }, async () => {
  const endpoints = await Promise.all([0, 1].map(() => CollectiveEndpoint.listen()));
  const peers = endpoints.map((endpoint) => endpoint.address);
  const groups = await Promise.all(
    endpoints.map((endpoint, rank) =>
      ProcessGroup.connect(endpoint, {
        groupId: 'soak',
        generation: 0,
        rank,
        worldSize: 2,
        peers,
        token: 't',
        chunkBytes: 256 * 1024
      })
    )
  );
  const data = groups.map(() => new Float32Array(1024 * 1024));
  const run = async (iterations: number) => {
    for (let iteration = 0; iteration < iterations; iteration += 1) {
      await Promise.all(
        groups.map((group, rank) =>
          group.allReduce(data[rank]!.fill(rank + 1), { op: 'mean', wire: iteration % 2 === 0 ? 'f32' : 'bf16' })
        )
      );
    }
  };
  try {
    await run(100);
    global.gc?.();
    const warmBuffers = groups.map((group) => group.stats.sendBuffersAllocated);
    const warmRss = process.memoryUsage().rss;
    await run(900);
    global.gc?.();
    const grownBytes = process.memoryUsage().rss - warmRss;
    // A rank sends 2·(N−1) segments of 8 chunks per operation: the pool never needs more than one
    // operation's frames, however many operations run.
    for (const [rank, group] of groups.entries()) {
      assert.ok(
        group.stats.sendBuffersAllocated <= 16,
        `rank ${rank} allocated ${group.stats.sendBuffersAllocated} send buffers`
      );
      assert.ok(
        group.stats.sendBuffersAllocated - warmBuffers[rank]! <= 2,
        `rank ${rank}'s pool kept growing after warm-up`
      );
    }
    assert.ok(
      grownBytes < 48 * 1024 * 1024,
      `RSS grew by ${(grownBytes / 1048576).toFixed(1)} MiB over 900 all-reduces of 4 MiB`
    );
    assert.equal(data[0]![12345], 1.5);
  } finally {
    await Promise.all(groups.map((group) => group.close()));
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  }
});
