import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeShardIndex, encodeShard, shardHeadLength, ShardFormatError, type ShardSample } from './shard-format.js';

const sampleArbitrary: fc.Arbitrary<ShardSample> = fc.record({
  label: fc.integer({ min: 0, max: 10_000 }),
  width: fc.integer({ min: 1, max: 100_000 }),
  height: fc.integer({ min: 1, max: 100_000 }),
  sourcePath: fc.string({ unit: 'grapheme', maxLength: 40 }),
  bytes: fc.uint8Array({ maxLength: 300 })
});

describe('shard format', () => {
  it('round-trips any samples through encode, the head and the index', () => {
    fc.assert(
      fc.property(fc.array(sampleArbitrary, { maxLength: 20 }), (samples) => {
        const shard = encodeShard(samples);
        const head = shard.subarray(0, shardHeadLength(shard));
        const index = decodeShardIndex(head, shard.length);
        assert.equal(index.length, samples.length);
        for (const [i, entry] of index.entries()) {
          const { bytes, ...meta } = samples[i]!;
          assert.deepEqual(
            { label: entry.label, width: entry.width, height: entry.height, sourcePath: entry.sourcePath },
            meta
          );
          assert.deepEqual(new Uint8Array(shard.subarray(entry.offset, entry.offset + entry.length)), bytes);
        }
      })
    );
  });

  it('is deterministic, so re-ingest reproduces shards byte for byte', () => {
    const samples: ShardSample[] = [
      { label: 3, width: 5, height: 7, sourcePath: 'cat/1.jpg', bytes: new Uint8Array([1, 2, 3]) }
    ];
    assert.deepEqual(encodeShard(samples), encodeShard(samples));
  });

  it('rejects foreign bytes and truncated heads with a clear error', () => {
    assert.throws(() => decodeShardIndex(Buffer.from('PK\x03\x04 not a shard at all')), /expected magic RTSHARD1/);
    const shard = encodeShard([{ label: 0, width: 1, height: 1, sourcePath: 'a', bytes: new Uint8Array(4) }]);
    assert.throws(() => decodeShardIndex(shard.subarray(0, 20)), ShardFormatError);
    assert.throws(() => decodeShardIndex(shard, shard.length - 1), /beyond the shard/);
  });
});
