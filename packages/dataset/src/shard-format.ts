/**
 * The shard format (`.rtshard`). A shard packs ~64 MiB of images so that object-store requests are few and
 * large, with an index at the front so a reader can find any sample after one read of the head.
 *
 * Layout, all integers little-endian:
 *
 *   offset 0    8 bytes   magic "RTSHARD1" (the trailing digit is the format version)
 *   offset 8    u32       N, the number of samples
 *   offset 12   u32       I, the byte length of the index that follows
 *   offset 16   I bytes   index: N entries, each
 *                           u64  offset of the sample's image bytes from the start of the shard
 *                           u32  byte length of the image
 *                           i32  label (class index in the manifest's `classes`)
 *                           u32  width, u32 height of the stored image in pixels, so a loader can plan
 *                                crops without decoding
 *                           u16  P, then P bytes of UTF-8: the sample's source path (relative to the
 *                                ingest source), for error messages and audits
 *   16 + I      ...       the images, concatenated in index order, stored as they are (JPEG, PNG or WebP;
 *                         re-encoded only when ingest downscales them, like FFCV's max_resolution)
 *
 * The encoding is a pure function of the samples, so re-running ingest reproduces shards byte for byte and
 * their sha256 tells which shards are already uploaded.
 */

export const shardMagic = 'RTSHARD1';
const fixedHeadBytes = 16;
const fixedEntryBytes = 8 + 4 + 4 + 4 + 4 + 2;

export type ShardSample = {
  label: number;
  width: number;
  height: number;
  sourcePath: string;
  bytes: Uint8Array;
};

export type ShardIndexEntry = Omit<ShardSample, 'bytes'> & { offset: number; length: number };

export class ShardFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardFormatError';
  }
}

export function encodeShard(samples: readonly ShardSample[]): Buffer {
  const paths = samples.map((sample) => Buffer.from(sample.sourcePath, 'utf8'));
  for (const [i, bytes] of paths.entries()) {
    if (bytes.length > 0xffff) throw new ShardFormatError(`source path of sample ${i} is longer than 65535 bytes`);
  }
  const indexBytes = paths.reduce((sum, bytes) => sum + fixedEntryBytes + bytes.length, 0);
  const dataStart = fixedHeadBytes + indexBytes;
  const total = samples.reduce((sum, sample) => sum + sample.bytes.length, dataStart);
  const shard = Buffer.alloc(total);
  shard.write(shardMagic, 0, 'latin1');
  shard.writeUInt32LE(samples.length, 8);
  shard.writeUInt32LE(indexBytes, 12);
  let at = fixedHeadBytes;
  let dataAt = dataStart;
  for (const [i, sample] of samples.entries()) {
    shard.writeBigUInt64LE(BigInt(dataAt), at);
    shard.writeUInt32LE(sample.bytes.length, at + 8);
    shard.writeInt32LE(sample.label, at + 12);
    shard.writeUInt32LE(sample.width, at + 16);
    shard.writeUInt32LE(sample.height, at + 20);
    const path = paths[i]!;
    shard.writeUInt16LE(path.length, at + 24);
    path.copy(shard, at + fixedEntryBytes);
    at += fixedEntryBytes + path.length;
    shard.set(sample.bytes, dataAt);
    dataAt += sample.bytes.length;
  }
  return shard;
}

/** Bytes to read from the start of a shard to hold its whole index, known after the first 16 bytes. */
export function shardHeadLength(head: Uint8Array): number {
  const view = checkedHead(head);
  return fixedHeadBytes + view.readUInt32LE(12);
}

/** Parses the index from a shard's head (at least `shardHeadLength` bytes; the whole shard also works). */
export function decodeShardIndex(head: Uint8Array, shardLength?: number): ShardIndexEntry[] {
  const view = checkedHead(head);
  const count = view.readUInt32LE(8);
  const end = shardHeadLength(view);
  if (view.length < end)
    throw new ShardFormatError(`shard head truncated: index needs ${end} bytes, got ${view.length}`);
  const entries: ShardIndexEntry[] = [];
  let at = fixedHeadBytes;
  for (let i = 0; i < count; i += 1) {
    if (at + fixedEntryBytes > end) throw new ShardFormatError(`shard index ends inside entry ${i} of ${count}`);
    const offset = Number(view.readBigUInt64LE(at));
    const length = view.readUInt32LE(at + 8);
    const pathLength = view.readUInt16LE(at + 24);
    if (at + fixedEntryBytes + pathLength > end)
      throw new ShardFormatError(`shard index ends inside the path of entry ${i}`);
    if (shardLength !== undefined && offset + length > shardLength) {
      throw new ShardFormatError(
        `sample ${i} spans bytes ${offset}..${offset + length} beyond the shard's ${shardLength}`
      );
    }
    entries.push({
      offset,
      length,
      label: view.readInt32LE(at + 12),
      width: view.readUInt32LE(at + 16),
      height: view.readUInt32LE(at + 20),
      sourcePath: view.toString('utf8', at + fixedEntryBytes, at + fixedEntryBytes + pathLength)
    });
    at += fixedEntryBytes + pathLength;
  }
  return entries;
}

function checkedHead(head: Uint8Array): Buffer {
  const view = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (view.length < fixedHeadBytes || view.toString('latin1', 0, 8) !== shardMagic) {
    throw new ShardFormatError(`not a ringtrain shard: expected magic ${shardMagic}`);
  }
  return view;
}
