import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import fc from 'fast-check';
import {
  CollectiveArgumentError,
  connectGroup,
  PeerLostError,
  stripeSlices,
  StripedProcessGroup,
  ThreadedEndpoint,
  ThreadedProcessGroup,
  type CollectiveGroup,
  type ProcessGroupConfig
} from './index.js';
import { MIN_STRIPE_ELEMENTS } from './striped-process-group.js';
import { STRIPE_PORT_STEP } from '@ringtrain/proto';

// Three ranks' endpoints serve every test; their stripes' threads start with the first striped group and stay.
let endpoints: ThreadedEndpoint[] = [];
let nextGeneration = 0;

before(async () => {
  endpoints = await Promise.all([0, 1, 2].map(() => ThreadedEndpoint.listen()));
});

after(async () => {
  await Promise.all(endpoints.map((endpoint) => endpoint.close()));
});

/** `worldSize` ranks in this process, rank r on endpoints[r], each with `stripes(rank)` links per edge. */
async function formGroups(worldSize: number, stripes: (rank: number) => number): Promise<CollectiveGroup[]> {
  const generation = nextGeneration++;
  const peers = endpoints.slice(0, worldSize).map((endpoint) => endpoint.address);
  return Promise.all(
    peers.map((_, rank) => {
      const config: ProcessGroupConfig = {
        groupId: 'striped',
        generation,
        rank,
        worldSize,
        peers,
        token: 'secret',
        chunkBytes: 256 * 1024,
        timeoutMs: 10_000,
        stripes: stripes(rank)
      };
      return connectGroup(endpoints[rank]!, config);
    })
  );
}

function inputsFor(rank: number, length: number, seed: number): Float32Array {
  const shared = new Float32Array(new SharedArrayBuffer(length * 4));
  for (let i = 0; i < length; i += 1)
    shared[i] = Math.fround(Math.sin(seed + i * 0.37 + rank * 1.91) * 10 ** (((i + rank) % 5) - 2));
  return shared;
}

function bytesOf(array: Float32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

test('stripeSlices covers every element exactly once, in order, with as many slices as leave each its minimum', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 * MIN_STRIPE_ELEMENTS }), fc.integer({ min: 1, max: 8 }), (length, k) => {
      const slices = stripeSlices(length, k);
      assert.equal(slices[0]!.start, 0);
      assert.equal(slices.at(-1)!.end, length);
      for (let i = 1; i < slices.length; i += 1) assert.equal(slices[i]!.start, slices[i - 1]!.end);
      assert.equal(slices.length, Math.max(1, Math.min(k, Math.floor(length / MIN_STRIPE_ELEMENTS))));
      const sizes = slices.map((slice) => slice.end - slice.start);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `uneven slices ${sizes.join(', ')}`);
      if (slices.length > 1) assert.ok(Math.min(...sizes) >= MIN_STRIPE_ELEMENTS);
    })
  );
});

test('two stripes: f32 gives the same bits as one link, bf16 the same bits on every rank within its rounding, and both stripes carry bytes', async () => {
  const striped = await formGroups(2, () => 2);
  const single = await formGroups(2, () => 1);
  try {
    assert.ok(striped[0] instanceof StripedProcessGroup && striped[0].stripeCount === 2);
    assert.ok(single[0] instanceof ThreadedProcessGroup);
    for (const wire of ['f32', 'bf16'] as const) {
      for (const op of ['sum', 'mean'] as const) {
        for (const length of [1, 997, 2 * MIN_STRIPE_ELEMENTS - 1, 2 * MIN_STRIPE_ELEMENTS + 3, 1_048_579]) {
          const data = [0, 1].map((rank) => inputsFor(rank, length, length));
          const reference = [0, 1].map((rank) => inputsFor(rank, length, length));
          await Promise.all(single.map((group, rank) => group.allReduce(reference[rank]!, { op, wire: 'f32' })));
          // Rank 1 hands over an ordinary array: each stripe stages its own slice.
          const plain = data[1]!.slice();
          await Promise.all([
            striped[0]!.allReduce(data[0]!, { op, wire }),
            striped[1]!.allReduce(plain, { op, wire })
          ]);
          assert.ok(bytesOf(plain).equals(bytesOf(data[0]!)), `${wire} ${op} size ${length}: the ranks differ`);
          if (wire === 'f32') {
            assert.ok(bytesOf(plain).equals(bytesOf(reference[0]!)), `${op} size ${length} differs from one link`);
          } else {
            // A bf16 wire rounds what a rank sends, not what it owns: which rank owns an element depends on the
            // slicing, so the bits differ from one link's, within bf16's rounding (2^-8 of each addend and the sum).
            const addends = [0, 1].map((rank) => inputsFor(rank, length, length));
            const scale = op === 'mean' ? 0.5 : 1;
            for (let i = 0; i < length; i += 1) {
              const magnitude = scale * (Math.abs(addends[0]![i]!) + Math.abs(addends[1]![i]!));
              const tolerance = 2 ** -8 * (magnitude + Math.abs(reference[0]![i]!));
              assert.ok(Math.abs(plain[i]! - reference[0]![i]!) <= tolerance, `bf16 ${op} size ${length} element ${i}`);
            }
          }
        }
      }
    }
    const [stripeZero, stripeOne] = (striped[0] as unknown as { stripes: ThreadedProcessGroup[] }).stripes;
    assert.ok(stripeZero!.stats.bytesSent > 0 && stripeOne!.stats.bytesSent > 0, 'both links carried bytes');
    assert.equal(striped[0]!.stats.bytesSent, stripeZero!.stats.bytesSent + stripeOne!.stats.bytesSent);
  } finally {
    await Promise.all([...striped, ...single].map((group) => group.close()));
  }
});

test('three ranks over three stripes agree bit for bit: allReduce, allReduceMany, broadcast, allGather', async () => {
  const groups = await formGroups(3, () => 3);
  try {
    const length = 3 * MIN_STRIPE_ELEMENTS + 11;
    const data = [0, 1, 2].map((rank) => inputsFor(rank, length, 5));
    await Promise.all(groups.map((group, rank) => group.allReduce(data[rank]!, { op: 'mean' })));
    for (const rank of [1, 2]) assert.ok(bytesOf(data[rank]!).equals(bytesOf(data[0]!)), `rank ${rank} differs`);
    for (const i of [0, MIN_STRIPE_ELEMENTS, length - 1]) {
      const expected = [0, 1, 2].map((rank) => inputsFor(rank, length, 5)[i]!).reduce((a, b) => a + b) / 3;
      assert.ok(Math.abs(data[0]![i]! - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `element ${i}`);
    }

    const sizes = [10, 2 * MIN_STRIPE_ELEMENTS, 700, MIN_STRIPE_ELEMENTS * 4 + 1];
    const tensors = [0, 1, 2].map((rank) => sizes.map((size, i) => inputsFor(rank, size, i)));
    await Promise.all(groups.map((group, rank) => group.allReduceMany(tensors[rank]!)));
    for (const rank of [1, 2])
      for (const [i, tensor] of tensors[rank]!.entries())
        assert.ok(bytesOf(tensor).equals(bytesOf(tensors[0]![i]!)), `rank ${rank} tensor ${i} differs`);

    const weights = [0, 1, 2].map((rank) => inputsFor(rank, length, 9));
    const rootCopy = weights[2]!.slice();
    await Promise.all(groups.map((group, rank) => group.broadcast(weights[rank]!, 2)));
    for (const rank of [0, 1]) assert.ok(bytesOf(weights[rank]!).equals(bytesOf(rootCopy)), `rank ${rank} differs`);

    assert.deepEqual(await Promise.all(groups.map((group, rank) => group.allGather({ rank }))), [
      [{ rank: 0 }, { rank: 1 }, { rank: 2 }],
      [{ rank: 0 }, { rank: 1 }, { rank: 2 }],
      [{ rank: 0 }, { rank: 1 }, { rank: 2 }]
    ]);
  } finally {
    await Promise.all(groups.map((group) => group.close()));
  }
});

test('ranks that ask for different numbers of stripes are refused with an error naming the mismatch', async () => {
  const error = await formGroups(2, (rank) => (rank === 0 ? 2 : 3)).then(
    () => new Error('the group formed'),
    (reason: unknown) => reason
  );
  assert.ok(error instanceof CollectiveArgumentError, `got ${String(error)}`);
  assert.match(error.message, /links with \d stripes .* give every rank the same collective stripes/);
});

test('a peer that aborts fails every stripe of the other rank: an in-flight striped all-reduce rejects with PeerLostError', async () => {
  const groups = await formGroups(2, () => 2);
  try {
    const operation = groups[0]!.allReduce(inputsFor(0, 4 * MIN_STRIPE_ELEMENTS, 1)).catch((error: unknown) => error);
    groups[1]!.abort('the test ends this generation');
    const error = await operation;
    assert.ok(error instanceof PeerLostError, `got ${String(error)}`);
    assert.equal(error.peerRank, 1);
    assert.ok(groups[0]!.signal.aborted);
    await assert.rejects(groups[0]!.barrier(), { code: 'CLOSED' });
    await assert.rejects(groups[0]!.allReduce(inputsFor(0, 4 * MIN_STRIPE_ELEMENTS, 1)), { code: 'CLOSED' });
  } finally {
    await Promise.all(groups.map((group) => group.close()));
  }
});

test('ThreadedProcessGroup.connect refuses stripes > 1 and says how to form a striped group', async () => {
  await assert.rejects(
    ThreadedProcessGroup.connect(endpoints[0]!, {
      groupId: 'striped',
      generation: nextGeneration++,
      rank: 0,
      worldSize: 1,
      peers: [endpoints[0]!.address],
      token: 'secret',
      stripes: 2
    }),
    /stripes 2 needs a collective thread per stripe: form the group with connectGroup/
  );
});

/** A port p such that p and p + STRIPE_PORT_STEP are both free right now. */
async function freePortPair(): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve(bound));
      });
    });
  for (;;) {
    const port = await tryListen(0);
    if (port !== undefined && port + STRIPE_PORT_STEP < 65_536 && (await tryListen(port + STRIPE_PORT_STEP)))
      return port;
  }
}

test('an endpoint on a fixed port p starts its stripe k on p + k·STRIPE_PORT_STEP, where a pod declares it', async () => {
  const port = await freePortPair();
  const endpoint = await ThreadedEndpoint.listen({ host: '127.0.0.1', port });
  try {
    const stripe = await endpoint.stripeEndpoint(1);
    assert.equal(stripe.address, `127.0.0.1:${port + STRIPE_PORT_STEP}`);
    assert.equal(await endpoint.stripeEndpoint(1), stripe, 'one endpoint per stripe, kept across generations');
  } finally {
    await endpoint.close();
  }
});
