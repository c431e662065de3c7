import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import {
  CollectiveArgumentError,
  CollectiveEndpoint,
  CollectiveTimeoutError,
  GroupClosedError,
  PeerLostError,
  PeerRefusedError,
  ProcessGroup,
  ProtocolError,
  roundThroughWire,
  type ProcessGroupConfig
} from './index.js';
import { LINK_PATH } from './endpoint.js';
import { FRAME_HEADER_BYTES, FrameKind, writeFrameHeader } from './frame.js';

type Overrides = (rank: number) => Partial<ProcessGroupConfig>;

async function formGroups(worldSize: number, overrides: Overrides = () => ({})) {
  const endpoints = await Promise.all(Array.from({ length: worldSize }, () => CollectiveEndpoint.listen()));
  const peers = endpoints.map((endpoint) => endpoint.address);
  const attempts = await Promise.allSettled(
    endpoints.map((endpoint, rank) =>
      ProcessGroup.connect(endpoint, {
        groupId: 'run-a',
        generation: 3,
        rank,
        worldSize,
        peers,
        token: 'secret',
        chunkBytes: 4096,
        timeoutMs: 5_000,
        ...overrides(rank)
      })
    )
  );
  const closeAll = async () => {
    await Promise.all(attempts.map((attempt) => (attempt.status === 'fulfilled' ? attempt.value.close() : undefined)));
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  };
  return { endpoints, peers, attempts, closeAll };
}

async function withGroups<T>(
  worldSize: number,
  body: (groups: ProcessGroup[]) => Promise<T>,
  overrides?: Overrides
): Promise<T> {
  const formed = await formGroups(worldSize, overrides);
  try {
    const groups = formed.attempts.map((attempt) => {
      if (attempt.status === 'rejected') throw attempt.reason;
      return attempt.value;
    });
    return await body(groups);
  } finally {
    await formed.closeAll();
  }
}

function inputsFor(rank: number, length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) =>
    Math.fround(Math.sin(seed + i * 0.37 + rank * 1.91) * 10 ** (((i + rank) % 5) - 2))
  );
}

function assertBitIdentical(arrays: readonly Float32Array[]): void {
  const first = Buffer.from(arrays[0]!.buffer, arrays[0]!.byteOffset, arrays[0]!.byteLength);
  arrays.forEach((array, rank) => {
    assert.ok(
      Buffer.from(array.buffer, array.byteOffset, array.byteLength).equals(first),
      `rank ${rank} differs from rank 0`
    );
  });
}

/** Element i summed over every rank's input in float64, and the sum of magnitudes that bounds its rounding. */
function exactSum(inputs: readonly Float32Array[], i: number): { sum: number; magnitude: number } {
  let sum = 0;
  let magnitude = 0;
  for (const input of inputs) {
    sum += input[i]!;
    magnitude += Math.abs(input[i]!);
  }
  return { sum, magnitude };
}

const SIZES = [0, 1, 2, 3, 7, 997, 1024, 4099, 10_007];

for (const worldSize of [1, 2, 3, 4, 5]) {
  test(`all-reduce over ${worldSize} rank(s) equals a float64 sum and is bit-identical on every rank`, async () => {
    await withGroups(worldSize, async (groups) => {
      for (const length of SIZES) {
        for (const op of ['sum', 'mean'] as const) {
          const inputs = groups.map((group) => inputsFor(group.rank, length, length));
          const data = inputs.map((input) => input.slice());
          await Promise.all(groups.map((group, rank) => group.allReduce(data[rank]!, { op })));
          assertBitIdentical(data);
          for (let i = 0; i < length; i += 1) {
            const { sum, magnitude: total } = exactSum(inputs, i);
            const divisor = op === 'mean' ? worldSize : 1;
            const reference = sum / divisor;
            const magnitude = total / divisor;
            assert.ok(
              Math.abs(data[0]![i]! - reference) <= 1e-6 * magnitude + 1e-30,
              `size ${length} ${op} element ${i}: ${data[0]![i]} vs ${reference}`
            );
          }
        }
      }
    });
  });
}

test('f16 and bf16 wires stay within their precision and still agree to the bit across ranks', async () => {
  await withGroups(3, async (groups) => {
    for (const wire of ['f16', 'bf16'] as const) {
      const length = 5003;
      const inputs = groups.map((group) => inputsFor(group.rank, length, 11));
      const data = inputs.map((input) => input.slice());
      await Promise.all(groups.map((group, rank) => group.allReduce(data[rank]!, { op: 'sum', wire })));
      assertBitIdentical(data);
      const relative = wire === 'f16' ? 2 ** -9 : 2 ** -6;
      for (let i = 0; i < length; i += 1) {
        const { sum: reference, magnitude } = exactSum(inputs, i);
        // Each of the N-1 hops and the final result round once; f16 also flushes below 2^-24.
        const tolerance = 4 * relative * magnitude + (wire === 'f16' ? 3 * 2 ** -24 : 0);
        assert.ok(
          Math.abs(data[0]![i]! - reference) <= tolerance,
          `${wire} element ${i}: ${data[0]![i]} vs ${reference}`
        );
        assert.equal(data[0]![i], roundThroughWire(wire, data[0]![i]!), 'the result is a value of the wire format');
      }
    }
  });
});

test('an f16 mean divides before encoding, so values near f16’s limit do not overflow', async () => {
  await withGroups(3, async (groups) => {
    const data = groups.map(() => Float32Array.of(40_000, -50_000, 1));
    await Promise.all(groups.map((group, rank) => group.allReduce(data[rank]!, { op: 'mean', wire: 'f16' })));
    assertBitIdentical(data);
    [40_000, -50_000, 1].forEach((exact, i) => {
      assert.ok(
        Math.abs(data[0]![i]! - exact) <= 1e-3 * Math.abs(exact),
        `element ${i}: ${data[0]![i]} for a mean of ${exact}`
      );
    });
  });
});

test('bucketed all-reduce of many tensors equals plain all-reduce of each', async () => {
  await withGroups(
    3,
    async (groups) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }),
          async (lengths) => {
            const many = groups.map((group) => lengths.map((length, t) => inputsFor(group.rank, length, t)));
            const plain = groups.map((group) => lengths.map((length, t) => inputsFor(group.rank, length, t)));
            await Promise.all(groups.map((group, rank) => group.allReduceMany(many[rank]!, { op: 'mean' })));
            await Promise.all(
              groups.map(async (group, rank) => {
                for (const tensor of plain[rank]!) await group.allReduce(tensor, { op: 'mean' });
              })
            );
            // Buckets cut the buffer at other places, so the ring sums in another order: compare within rounding.
            for (let t = 0; t < lengths.length; t += 1) {
              const inputs = groups.map((group) => inputsFor(group.rank, lengths[t]!, t));
              for (let i = 0; i < lengths[t]!; i += 1) {
                const { magnitude } = exactSum(inputs, i);
                assert.ok(
                  Math.abs(many[0]![t]![i]! - plain[0]![t]![i]!) <= 1e-6 * magnitude + 1e-30,
                  `tensor ${t} element ${i}`
                );
              }
              assertBitIdentical(many.map((tensors) => tensors[t]!));
            }
          }
        ),
        { numRuns: 25 }
      );
    },
    () => ({ bucketBytes: 8192 })
  );
});

test('broadcast copies the root’s buffer to every rank, from any root', async () => {
  await withGroups(4, async (groups) => {
    for (const root of [0, 1, 2, 3]) {
      const data = groups.map((group) => inputsFor(group.rank, 9001, root));
      await Promise.all(groups.map((group, rank) => group.broadcast(data[rank]!, root)));
      assertBitIdentical([inputsFor(root, 9001, root), ...data]);
    }
  });
});

test('all-gather returns every rank’s value in rank order, and barrier completes', async () => {
  await withGroups(5, async (groups) => {
    const gathered = await Promise.all(
      groups.map((group) => group.allGather({ rank: group.rank, samples: [group.rank * 10] }))
    );
    for (const values of gathered)
      assert.deepEqual(
        values,
        [0, 1, 2, 3, 4].map((rank) => ({ rank, samples: [rank * 10] }))
      );
    await Promise.all(groups.map((group) => group.barrier()));
  });
});

test('operations issued back to back without awaiting run in call order', async () => {
  await withGroups(3, async (groups) => {
    const data = groups.map((group) => [inputsFor(group.rank, 500, 1), inputsFor(group.rank, 7000, 2)]);
    await Promise.all(
      groups.flatMap((group, rank) => [
        group.allReduce(data[rank]![0]!),
        group.broadcast(data[rank]![1]!, 2),
        group.allGather(rank),
        group.allReduce(data[rank]![1]!, { op: 'mean' })
      ])
    );
    assertBitIdentical(data.map((pair) => pair[0]!));
    assertBitIdentical(data.map((pair) => pair[1]!));
  });
});

test('a wrong token is refused by both neighbours, with a message that names the token', async () => {
  const formed = await formGroups(2, (rank) => ({ token: rank === 1 ? 'wrong' : 'secret', connectTimeoutMs: 1_500 }));
  try {
    for (const attempt of formed.attempts) {
      assert.equal(attempt.status, 'rejected');
      const reason = (attempt as PromiseRejectedResult).reason;
      assert.ok(reason instanceof PeerRefusedError, String(reason));
      assert.match(reason.message, /wrong or missing collective token/);
    }
  } finally {
    await formed.closeAll();
  }
});

test('a peer of another group or an older generation is refused', async () => {
  for (const override of [{ groupId: 'run-b' }, { generation: 2 }, { worldSize: 3, peers: ['a', 'b', 'c'] }]) {
    const formed = await formGroups(2, (rank) => ({ connectTimeoutMs: 1_500, ...(rank === 1 ? override : {}) }));
    try {
      const rank1 = formed.attempts[1]!;
      assert.equal(rank1.status, 'rejected', JSON.stringify(override));
      const reason = (rank1 as PromiseRejectedResult).reason;
      if (override.worldSize === undefined) {
        assert.ok(reason instanceof PeerRefusedError, `${JSON.stringify(override)}: ${reason}`);
        assert.match(reason.message, /refused the link/);
      }
      assert.equal(formed.attempts[0]!.status, 'rejected');
    } finally {
      await formed.closeAll();
    }
  }
});

test('a stalled rank makes every other rank fail within the deadline, naming a peer', async () => {
  await withGroups(
    3,
    async (groups) => {
      const started = Date.now();
      // Rank 2 never joins the operation, as if it hung in its training step.
      const results = await Promise.allSettled([
        groups[0]!.allReduce(new Float32Array(100_000)),
        groups[1]!.allReduce(new Float32Array(100_000))
      ]);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 800 + 1_000, `failed after ${elapsed} ms`);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        const error = (result as PromiseRejectedResult).reason;
        assert.ok(error instanceof CollectiveTimeoutError || error instanceof PeerLostError, String(error));
        assert.equal(typeof error.peerRank, 'number');
      }
      for (let waited = 0; !groups[2]!.signal.aborted && waited < 1_000; waited += 10)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(groups[2]!.signal.aborted, 'the stalled rank learns that the group failed');
      await assert.rejects(groups[0]!.allReduce(new Float32Array(4)), GroupClosedError);
    },
    () => ({ timeoutMs: 800 })
  );
});

test('mismatched calls across ranks are protocol errors on every rank, not wrong numbers', async () => {
  await withGroups(
    3,
    async (groups) => {
      const results = await Promise.allSettled(
        groups.map((group) => group.allReduce(new Float32Array(group.rank === 1 ? 1001 : 1000)))
      );
      for (const result of results) assert.equal(result.status, 'rejected');
      assert.ok(results.some((result) => (result as PromiseRejectedResult).reason instanceof ProtocolError));
    },
    () => ({ timeoutMs: 2_000 })
  );
});

/**
 * Rank 0 of a 2-rank group against a hand-made rank 1 built on grpc-js (so this also checks that the Link
 * speaks plain gRPC both ways): the fake links properly, then answers the all-reduce with `answer`'s messages.
 */
async function allReduceAgainstFake(
  answer: (
    frame: (kind: FrameKind, step: number, offset: number, count: number, payloadBytes: number) => Buffer
  ) => Buffer[]
): Promise<unknown> {
  const endpoint = await CollectiveEndpoint.listen();
  const fake = new grpc.Server();
  fake.addService(
    {
      Link: {
        path: LINK_PATH,
        requestStream: false,
        responseStream: true,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (bytes: Buffer) => bytes
      }
    },
    {
      Link: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        const frame = (kind: FrameKind, step: number, offset: number, count: number, payloadBytes: number) => {
          const buffer = Buffer.alloc(FRAME_HEADER_BYTES + payloadBytes);
          writeFrameHeader(
            buffer,
            0,
            {
              opSeq: 0,
              kind,
              format: kind === FrameKind.accepted ? 'bytes' : 'f32',
              step,
              elementOffset: offset,
              elementCount: count
            },
            payloadBytes
          );
          return buffer;
        };
        call.write(frame(FrameKind.accepted, 0, 0, 0, 0));
        for (const message of answer(frame)) call.write(message);
      }
    }
  );
  const fakePort = await new Promise<number>((resolve, reject) =>
    fake.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port)
    )
  );
  const peers = [endpoint.address, `127.0.0.1:${fakePort}`];
  const fakeClient = new grpc.Client(endpoint.address, grpc.credentials.createInsecure());
  try {
    // A message can break the link while the group is still forming (it may follow the accepted frame at once).
    const connecting = ProcessGroup.connect(endpoint, {
      groupId: 'g',
      generation: 0,
      rank: 0,
      worldSize: 2,
      peers,
      token: 't',
      timeoutMs: 2_000,
      chunkBytes: 4096
    }).catch((reason: unknown) => reason);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer t');
    const { serializeLinkRequest } = await import('./endpoint.js');
    const downstream = fakeClient.makeServerStreamRequest(
      LINK_PATH,
      serializeLinkRequest,
      (bytes: Buffer) => bytes,
      { groupId: 'g', generation: 0, worldSize: 2, fromRank: 1, toRank: 0 },
      metadata
    );
    downstream.on('data', () => {});
    downstream.on('error', () => {});
    const group = await connecting;
    if (!(group instanceof ProcessGroup)) return group;
    const error = await group.allReduce(new Float32Array(100)).then(
      () => undefined,
      (reason: unknown) => reason
    );
    await group.close();
    return error;
  } finally {
    fakeClient.close();
    fake.forceShutdown();
    await endpoint.close();
  }
}

test('a peer that sends a chunk of the wrong size fails the operation with a ProtocolError naming it', async () => {
  const error = await allReduceAgainstFake((frame) => [frame(FrameKind.allReduce, 0, 50, 50, 49 * 4)]);
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal(error.peerRank, 1);
  assert.match(error.message, /payload of 196 bytes for 50 f32 values/);
});

test('a peer that sends a message larger than the group’s frames is a ProtocolError, not an allocation', async () => {
  const error = await allReduceAgainstFake((frame) => [frame(FrameKind.allReduce, 0, 50, 50_000, 200_000)]);
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal(error.peerRank, 1);
  assert.match(
    error.message,
    /message of 200031 bytes, more than a frame of this group can hold \(4127\): do all ranks use the same chunkBytes\?/
  );
});

test('a new generation forms on the same endpoints after a failure', async () => {
  const formed = await formGroups(2, () => ({ timeoutMs: 500 }));
  try {
    const groups = formed.attempts.map((attempt) => (attempt as PromiseFulfilledResult<ProcessGroup>).value);
    groups[1]!.abort('the coordinator ended generation 3');
    await assert.rejects(
      groups[0]!.allReduce(new Float32Array(10)),
      (error: unknown) => error instanceof PeerLostError || error instanceof GroupClosedError
    );
    const next = await Promise.all(
      formed.endpoints.map((endpoint, rank) =>
        ProcessGroup.connect(endpoint, {
          groupId: 'run-a',
          generation: 4,
          rank,
          worldSize: 2,
          peers: formed.peers,
          token: 'secret'
        })
      )
    );
    const data = next.map((group) => Float32Array.of(group.rank + 1));
    await Promise.all(next.map((group, rank) => group.allReduce(data[rank]!)));
    assert.deepEqual(
      data.map((values) => values[0]),
      [3, 3]
    );
    await Promise.all(next.map((group) => group.close()));
  } finally {
    await formed.closeAll();
  }
});

test('refuses a receive window larger than what an accepting peer will buffer, before anything connects', async () => {
  const formed = await formGroups(2, () => ({ flowControlWindowBytes: 1024 * 1024 * 1024 }));
  try {
    for (const attempt of formed.attempts) {
      assert.equal(attempt.status, 'rejected');
      assert.ok(attempt.reason instanceof CollectiveArgumentError);
      assert.match(
        String(attempt.reason.message),
        /flowControlWindowBytes must be an integer between 64 KiB and 128 MiB/
      );
    }
  } finally {
    await formed.closeAll();
  }
});
