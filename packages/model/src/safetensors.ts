/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the raw
 * little-endian tensor bytes. No npm library for it is well kept, and the format is small enough to read
 * and write here with strict validation: a truncated or hostile file must fail with a clear message, never
 * produce a silently wrong tensor.
 */

export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

export interface RawTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Little-endian bytes, exactly shape-product × dtype-size long. */
  readonly data: Uint8Array;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, RawTensor>;
  readonly metadata: Record<string, string>;
}

/** Upper bound on the JSON header, as the reference implementation enforces (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(`safetensors: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8)
    throw new SafetensorsError(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsError(`header length ${headerLength} exceeds the file (${bytes.length} bytes) or 100 MB`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError('header is not a JSON object');
  }
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, RawTensor>();
  const ranges: Array<[number, number, string]> = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry);
      continue;
    }
    const { dtype, shape, begin, end } = parseEntry(name, entry);
    const expected = shape.reduce((product, size) => product * size, 1) * DTYPE_SIZES[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(`${name}: ${end - begin} bytes for ${dtype}[${shape}] (expected ${expected})`);
    }
    if (end > dataLength)
      throw new SafetensorsError(`${name}: data ends at ${end}, past the file's ${dataLength} data bytes (truncated?)`);
    ranges.push([begin, end, name]);
    tensors.set(name, { dtype, shape, data: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  // The format requires the tensors to tile the data section exactly: no gaps, no overlaps.
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end, name] of ranges) {
    if (begin !== cursor)
      throw new SafetensorsError(`${name}: data starts at ${begin}, expected ${cursor} (gap or overlap)`);
    cursor = end;
  }
  if (cursor !== dataLength)
    throw new SafetensorsError(`${dataLength - cursor} trailing data bytes belong to no tensor`);
  return { tensors, metadata };
}

export function encodeSafetensors(
  tensors: Iterable<readonly [string, RawTensor]>,
  metadata: Readonly<Record<string, string>> = {}
): Uint8Array {
  // Entries, not assignments into an object: names such as "valueOf" or "__proto__" are valid tensor names.
  const entries: Array<[string, unknown]> = [];
  if (Object.keys(metadata).length > 0) entries.push(['__metadata__', { ...metadata }]);
  const seen = new Set<string>(['__metadata__']);
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (seen.has(name)) throw new SafetensorsError(`duplicate or reserved tensor name ${name}`);
    seen.add(name);
    const expected = tensor.shape.reduce((product, size) => product * size, 1) * DTYPE_SIZES[tensor.dtype];
    if (tensor.data.length !== expected) {
      throw new SafetensorsError(
        `${name}: ${tensor.data.length} bytes for ${tensor.dtype}[${tensor.shape}] (expected ${expected})`
      );
    }
    entries.push([name, { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + expected] }]);
    parts.push(tensor.data);
    offset += expected;
  }
  const header = Object.fromEntries(entries);
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces to 8-byte alignment as the reference writer does, so readers can map data zero-copy.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = new TextEncoder().encode(JSON.stringify(header).padEnd(padded, ' '));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let cursor = 8 + json.length;
  for (const part of parts) {
    out.set(part, cursor);
    cursor += part.length;
  }
  return out;
}

type Reader = (view: DataView, index: number, name: string) => number;

/** How to read element `index` of each dtype as a number. */
const READERS: Record<SafetensorsDtype, Reader> = {
  F32: (view, i) => view.getFloat32(i * 4, true),
  F64: (view, i) => view.getFloat64(i * 8, true),
  F16: (view, i) => halfToFloat(view.getUint16(i * 2, true)),
  BF16: (view, i) => bfloat16ToFloat(view.getUint16(i * 2, true)),
  I64: (view, i, name) => {
    const value = view.getBigInt64(i * 8, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new SafetensorsError(`${name}: I64 value ${value} does not fit a float`);
    }
    return Number(value);
  },
  I32: (view, i) => view.getInt32(i * 4, true),
  I16: (view, i) => view.getInt16(i * 2, true),
  I8: (view, i) => view.getInt8(i),
  U8: (view, i) => view.getUint8(i),
  BOOL: (view, i) => view.getUint8(i)
};

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Float32 values of a floating-point or integer tensor (I64 must fit a double exactly: |v| < 2^53). */
export function toFloat32(name: string, tensor: RawTensor): Float32Array {
  const { data, dtype } = tensor;
  // The common case, F32 on a little-endian host, is one copy, which also fixes the alignment. Not
  // data.slice(): on a Node Buffer (readFileSync) that is a view of the whole file, not a copy.
  if (dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(new Uint8Array(data).buffer);
  const count = data.length / DTYPE_SIZES[dtype];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = READERS[dtype];
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = read(view, i, name);
  return out;
}

/** Little-endian F32 bytes of a Float32Array (copied: the caller's buffer may be shared or misaligned). */
export function float32Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Little-endian I64 bytes of integers (num_batches_tracked is int64 in PyTorch). */
export function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(Math.round(value)), true));
  return out;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new SafetensorsError('__metadata__ is not an object of strings');
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') throw new SafetensorsError(`__metadata__.${key} is not a string`);
  }
  return { ...(entry as Record<string, string>) };
}

function parseEntry(
  name: string,
  entry: unknown
): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = record;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZES)) {
    throw new SafetensorsError(
      `${name}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZES).join(', ')})`
    );
  }
  const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw new SafetensorsError(`${name}: shape is not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsError(`${name}: data_offsets is not [begin, end] with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new SafetensorsError(`${name}: data_offsets is not [begin, end] with begin <= end`);
  return { dtype: dtype as SafetensorsDtype, shape, begin, end };
}

/** IEEE binary16 → number, exactly (every half is a float32): subnormals, ±0, ±Infinity and NaN included. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** bfloat16 → number, exactly: the top half of a float32's bits (one shared scratch, no allocation per value). */
function bfloat16ToFloat(bits: number): number {
  scratchBits[0] = bits << 16;
  return scratch[0]!;
}
