/**
 * TensorBoard's event-file format, written by hand: no maintained npm package writes it, and tfjs-node's summary
 * writer exists only on the native backend. An event file is a TFRecord stream (each record: its length as a
 * little-endian uint64, the masked CRC32C of those 8 bytes, the data, the masked CRC32C of the data) of
 * serialized `tensorflow.Event` protobufs (tensorflow/core/util/event.proto). We need four fields of it, so
 * they are encoded here directly rather than through a protobuf runtime.
 */

/** The version string TensorBoard expects in the first event of a file. */
export const EVENT_FILE_VERSION = 'brain.Event:2';

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    // 0x82f63b78: the Castagnoli polynomial, bit-reversed (TFRecord's checksum, not zlib's CRC-32).
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking, so that a CRC of data that itself holds CRCs stays a good check (tensorflow/core/lib/hash/crc32c.h). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(8 + 4 + data.byteLength + 4);
  record.writeBigUInt64LE(BigInt(data.byteLength), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.byteLength);
  return record;
}

/** A protobuf message under construction: fields appended in order. */
class ProtoWriter {
  private readonly parts: Buffer[] = [];

  private key(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  private varint(value: number | bigint): void {
    let rest = BigInt(value);
    const bytes: number[] = [];
    while (rest >= 0x80n) {
      bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    bytes.push(Number(rest));
    this.parts.push(Buffer.from(bytes));
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(value);
    this.parts.push(bytes);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value);
    this.parts.push(bytes);
    return this;
  }

  uint(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.key(field, 2);
    this.varint(data.byteLength);
    this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// Field numbers of tensorflow.Event, Summary, Summary.Value and SessionLog.
const EVENT = { wallTime: 1, step: 2, fileVersion: 3, summary: 5, sessionLog: 7 } as const;
const SUMMARY = { value: 1 } as const;
const SUMMARY_VALUE = { tag: 1, simpleValue: 2 } as const;
const SESSION_LOG = { status: 1 } as const;
const SESSION_LOG_START = 1;

export type TensorBoardEvent =
  | { kind: 'file-version'; wallTime: number }
  /** Scalars of one step, `Summary.Value.simple_value`s (float32, as TensorBoard stores them). */
  | { kind: 'scalars'; wallTime: number; step: number; values: Readonly<Record<string, number>> }
  /**
   * `SessionLog.START` at `step`: TensorBoard drops the events at or after `step` that it read before this one
   * (a run restarted from a checkpoint redoes those steps), as it does for a TensorFlow session that restarts.
   */
  | { kind: 'session-start'; wallTime: number; step: number };

/** A `tensorflow.Event` protobuf. `wallTime` is in seconds since the Unix epoch. */
export function encodeEvent(event: TensorBoardEvent): Buffer {
  const message = new ProtoWriter().double(EVENT.wallTime, event.wallTime);
  switch (event.kind) {
    case 'file-version':
      return message.bytes(EVENT.fileVersion, EVENT_FILE_VERSION).finish();
    case 'session-start':
      return message
        .uint(EVENT.step, event.step)
        .bytes(EVENT.sessionLog, new ProtoWriter().uint(SESSION_LOG.status, SESSION_LOG_START).finish())
        .finish();
    case 'scalars': {
      const summary = new ProtoWriter();
      for (const [tag, value] of Object.entries(event.values)) {
        summary.bytes(
          SUMMARY.value,
          new ProtoWriter().bytes(SUMMARY_VALUE.tag, tag).float(SUMMARY_VALUE.simpleValue, value).finish()
        );
      }
      return message.uint(EVENT.step, event.step).bytes(EVENT.summary, summary.finish()).finish();
    }
  }
}

/** Events as the bytes of an event file (or of a segment of one: records simply follow each other). */
export function encodeEventRecords(events: readonly TensorBoardEvent[]): Buffer {
  return Buffer.concat(events.map((event) => frameRecord(encodeEvent(event))));
}
