import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from './buffer-pool.js';
import { CollectiveEndpoint } from './endpoint.js';
import { CollectiveTimeoutError, GroupClosedError } from './errors.js';
import { WIRE_HEADER_BYTES, type DownstreamLink, type UpstreamLink } from './link.js';
import { formRing, ringNeighbours, type RingFormationOptions } from './ring-formation.js';

function formation(
  endpoint: CollectiveEndpoint,
  peers: readonly string[],
  rank: number,
  overrides: Partial<RingFormationOptions> = {}
): RingFormationOptions {
  return {
    endpoint,
    membership: { groupId: 'run-a', generation: 1, worldSize: peers.length, rank, token: 'secret' },
    peers,
    connectTimeoutMs: 5_000,
    windowBytes: 1024 * 1024,
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 60_000,
    receivePool: new BufferPool(WIRE_HEADER_BYTES + 4096),
    signal: new AbortController().signal,
    onUpstream: () => {},
    onDownstream: () => {},
    ...overrides
  };
}

test('a rank reads from the rank before it and writes to the rank after it, wrapping around', () => {
  assert.deepEqual(ringNeighbours(0, 4), { leftRank: 3, rightRank: 1 });
  assert.deepEqual(ringNeighbours(3, 4), { leftRank: 2, rightRank: 0 });
  assert.deepEqual(ringNeighbours(0, 2), { leftRank: 1, rightRank: 1 });
});

test('every rank of a ring is handed both of its links before formation resolves', async () => {
  const endpoints = await Promise.all([0, 1, 2].map(() => CollectiveEndpoint.listen()));
  const peers = endpoints.map((endpoint) => endpoint.address);
  const upstreams: UpstreamLink[] = [];
  const downstreams: DownstreamLink[] = [];
  try {
    const unregisters = await Promise.all(
      endpoints.map((endpoint, rank) =>
        formRing(
          formation(endpoint, peers, rank, {
            onUpstream: (link) => upstreams.push(link),
            onDownstream: (link) => downstreams.push(link)
          })
        )
      )
    );
    assert.equal(upstreams.length, 3);
    assert.equal(downstreams.length, 3);
    for (const unregister of unregisters) unregister();
  } finally {
    for (const link of downstreams) link.end();
    for (const link of upstreams) link.cancel();
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  }
});

test('a right neighbour that never links times the formation out, naming that rank', async () => {
  // Rank 2 forms its side (so rank 0's call on it is accepted); rank 1 never starts.
  const endpoints = await Promise.all([0, 1, 2].map(() => CollectiveEndpoint.listen()));
  const peers = endpoints.map((endpoint) => endpoint.address);
  const rankTwoGivesUp = new AbortController();
  const links: (UpstreamLink | DownstreamLink)[] = [];
  const keep = {
    onUpstream: (link: UpstreamLink) => links.push(link),
    onDownstream: (link: DownstreamLink) => links.push(link)
  };
  const rankTwo = formRing(formation(endpoints[2]!, peers, 2, { ...keep, signal: rankTwoGivesUp.signal }));
  rankTwo.catch(() => {});
  try {
    const started = Date.now();
    await assert.rejects(formRing(formation(endpoints[0]!, peers, 0, { ...keep, connectTimeoutMs: 500 })), (error) => {
      assert.ok(error instanceof CollectiveTimeoutError);
      assert.equal(error.peerRank, 1);
      assert.match(error.message, /took over 500 ms: rank 1 \(.+\) never linked to this rank/);
      return true;
    });
    assert.ok(Date.now() - started < 3_000, 'the deadline is kept');
  } finally {
    rankTwoGivesUp.abort(new GroupClosedError('the test is over', 'connect'));
    for (const link of links)
      if ('cancel' in link) link.cancel();
      else link.end();
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  }
});

test('a group that fails while its ring forms stops the formation at once, with the group’s error', async () => {
  const endpoints = await Promise.all([0, 1].map(() => CollectiveEndpoint.listen()));
  const peers = endpoints.map((endpoint) => endpoint.address);
  const failure = new AbortController();
  const reason = new GroupClosedError('the coordinator ended this generation', 'connect');
  try {
    const forming = formRing(formation(endpoints[0]!, peers, 0, { signal: failure.signal }));
    setTimeout(() => failure.abort(reason), 50);
    await assert.rejects(forming, (error) => error === reason);
  } finally {
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  }
});
