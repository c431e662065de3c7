import { ProtocolError } from './errors.js';
import { FrameKind, type DecodedFrame, type FrameHeader, type PayloadFormat } from './frame.js';
import { chunkSpans, ringIndex, segmentSpan, type Span } from './partition.js';
import { addF32Into, addHalfInto, bytesPerElement, decodeHalfInto, type WireFormat } from './wire-format.js';

/** What an operation needs from its group: where it sits in the ring and how to send downstream. */
export interface RingContext {
  readonly rank: number;
  readonly worldSize: number;
  readonly chunkElements: number;
  /** Sends values to the right neighbour, encoded as `header.format`; returns the encoded payload. */
  sendValues(header: FrameHeader, values: Float32Array): Uint16Array | undefined;
  sendBytes(header: FrameHeader, bytes: Uint8Array): void;
  /** Re-sends a received frame unchanged but for its step (the cheapest forward: no decode, no encode). */
  forward(frame: Buffer, step: number): void;
  /** An aligned f32 view of a payload (a copy when gRPC handed over an unaligned buffer). */
  f32View(payload: Buffer, count: number): Float32Array;
  u16View(payload: Buffer, count: number): Uint16Array;
  readonly leftRank: number;
}

/** One collective operation on the ring: sends its first frames, then consumes the left neighbour's. */
export interface RingOperation {
  readonly name: string;
  readonly done: boolean;
  start(): void;
  onFrame(frame: DecodedFrame, raw: Buffer): void;
}

function protocolError(operation: RingOperation, context: RingContext, detail: string): ProtocolError {
  return new ProtocolError(
    `${operation.name}: rank ${context.leftRank} sent an unexpected frame (${detail}); ` +
      'every rank must call the same operations in the same order with the same sizes, roots and wire formats',
    operation.name,
    context.leftRank
  );
}

/** Tracks which chunks of which steps have arrived, and rejects duplicates, strays and wrong sizes. */
class ChunkLedger {
  private readonly seen: Uint8Array[];
  remaining = 0;

  constructor(private readonly stepChunks: readonly (readonly Span[])[]) {
    this.seen = stepChunks.map((chunks) => new Uint8Array(chunks.length));
    for (const chunks of stepChunks) this.remaining += chunks.length;
  }

  /** Marks the frame's chunk as arrived; returns why it cannot be accepted, if it cannot. */
  admit(step: number, offset: number, count: number): string | undefined {
    const chunks = this.stepChunks[step];
    if (chunks === undefined) return `step ${step} is outside this operation`;
    const index = chunks.findIndex((chunk) => chunk.offset === offset);
    const chunk = chunks[index];
    if (chunk === undefined) return `no chunk starts at element ${offset} in step ${step}`;
    if (chunk.count !== count) return `chunk at ${offset} has ${count} elements, expected ${chunk.count}`;
    if (this.seen[step]![index] === 1) return `chunk at ${offset} of step ${step} arrived twice`;
    this.seen[step]![index] = 1;
    this.remaining -= 1;
    return undefined;
  }
}

/**
 * Ring all-reduce, pipelined per chunk. Reduce-scatter: at step s rank r sends segment r−s and adds the
 * left neighbour's segment r−s−1 into its own, forwarding each chunk as soon as it is reduced; after N−1 steps
 * rank r owns segment r+1 fully reduced. It finishes that sum once (mean, wire rounding) and the all-gather
 * copies the owner's values around the ring, so every rank ends with the same bits.
 */
export class AllReduceOperation implements RingOperation {
  readonly name: string;
  private readonly ledger: ChunkLedger;
  private readonly chunksOfSegment: Span[][];

  constructor(
    private readonly context: RingContext,
    private readonly opSeq: number,
    private readonly data: Float32Array,
    private readonly reduction: 'sum' | 'mean',
    private readonly wire: WireFormat
  ) {
    this.name = `allReduce#${opSeq}`;
    const { worldSize } = context;
    this.chunksOfSegment = Array.from({ length: worldSize }, (_, segment) =>
      chunkSpans(segmentSpan(data.length, worldSize, segment), context.chunkElements)
    );
    const stepChunks: Span[][] = [];
    for (let step = 0; step < 2 * (worldSize - 1); step += 1)
      stepChunks.push(this.chunksOfSegment[this.segmentReceivedAt(step)]!);
    this.ledger = new ChunkLedger(stepChunks);
  }

  get done(): boolean {
    return this.ledger.remaining === 0;
  }

  /** The segment the left neighbour sends at `step`. */
  private segmentReceivedAt(step: number): number {
    const { rank, worldSize } = this.context;
    return step < worldSize - 1
      ? ringIndex(rank - step - 1, worldSize)
      : ringIndex(rank - (step - (worldSize - 1)), worldSize);
  }

  private header(step: number, chunk: Span): FrameHeader {
    return {
      opSeq: this.opSeq,
      kind: FrameKind.allReduce,
      format: this.wire,
      step,
      elementOffset: chunk.offset,
      elementCount: chunk.count
    };
  }

  /**
   * With a 16-bit wire, a mean divides before anything is encoded (as DDP's fp16_compress_hook does), so that
   * partial sums stay in f16's range; with f32 the owner divides once, exactly, at the end.
   */
  private get dividesFirst(): boolean {
    return this.reduction === 'mean' && this.wire !== 'f32';
  }

  start(): void {
    if (this.dividesFirst) {
      const worldSize = this.context.worldSize;
      for (let i = 0; i < this.data.length; i += 1) this.data[i] = this.data[i]! / worldSize;
    }
    for (const chunk of this.chunksOfSegment[this.context.rank]!) {
      this.context.sendValues(this.header(0, chunk), this.data.subarray(chunk.offset, chunk.offset + chunk.count));
    }
  }

  onFrame(frame: DecodedFrame, raw: Buffer): void {
    const { worldSize } = this.context;
    if (frame.kind !== FrameKind.allReduce)
      throw protocolError(this, this.context, `kind ${frame.kind} instead of all-reduce`);
    if (frame.format !== this.wire)
      throw protocolError(this, this.context, `wire ${frame.format} instead of ${this.wire}`);
    const problem = this.ledger.admit(frame.step, frame.elementOffset, frame.elementCount);
    if (problem !== undefined) throw protocolError(this, this.context, problem);
    const count = frame.elementCount;
    if (frame.payload.length !== count * bytesPerElement(this.wire)) {
      throw protocolError(
        this,
        this.context,
        `payload of ${frame.payload.length} bytes for ${count} ${this.wire} values`
      );
    }
    const target = this.data.subarray(frame.elementOffset, frame.elementOffset + count);
    const chunk = { offset: frame.elementOffset, count };
    if (frame.step < worldSize - 1) {
      this.accumulate(frame.payload, target);
      if (frame.step < worldSize - 2) {
        this.context.sendValues(this.header(frame.step + 1, chunk), target);
      } else {
        this.finish(target, chunk);
      }
    } else {
      this.overwrite(frame.payload, target);
      if (frame.step < 2 * worldSize - 3) this.context.forward(raw, frame.step + 1);
    }
  }

  private accumulate(payload: Buffer, target: Float32Array): void {
    if (this.wire === 'f32') addF32Into(this.context.f32View(payload, target.length), target);
    else addHalfInto(this.wire, this.context.u16View(payload, target.length), target);
  }

  private overwrite(payload: Buffer, target: Float32Array): void {
    if (this.wire === 'f32') payload.copy(Buffer.from(target.buffer, target.byteOffset, target.byteLength));
    else decodeHalfInto(this.wire, this.context.u16View(payload, target.length), target);
  }

  /** The owner's last word on a chunk: what it sends is exactly what it keeps. */
  private finish(target: Float32Array, chunk: Span): void {
    if (this.reduction === 'mean' && !this.dividesFirst) {
      const worldSize = this.context.worldSize;
      for (let i = 0; i < target.length; i += 1) target[i] = target[i]! / worldSize;
    }
    const encoded = this.context.sendValues(this.header(this.context.worldSize - 1, chunk), target);
    if (this.wire !== 'f32' && encoded !== undefined) decodeHalfInto(this.wire, encoded, target);
  }
}

/** Broadcast down the chain root → root+1 → … → root−1, each chunk forwarded as it arrives. */
export class BroadcastOperation implements RingOperation {
  readonly name: string;
  private readonly ledger: ChunkLedger;
  private readonly distance: number;
  private readonly chunks: Span[];

  constructor(
    private readonly context: RingContext,
    private readonly opSeq: number,
    private readonly data: Float32Array,
    readonly root: number
  ) {
    this.name = `broadcast#${opSeq}`;
    this.distance = ringIndex(context.rank - root, context.worldSize);
    this.chunks = chunkSpans({ offset: 0, count: data.length }, context.chunkElements);
    const stepChunks: Span[][] = Array.from({ length: context.worldSize - 1 }, (_, step) =>
      step === this.distance - 1 ? this.chunks : []
    );
    this.ledger = new ChunkLedger(stepChunks);
  }

  get done(): boolean {
    return this.ledger.remaining === 0;
  }

  start(): void {
    if (this.distance !== 0) return;
    const format: PayloadFormat = 'f32';
    for (const chunk of this.chunks) {
      this.context.sendValues(
        {
          opSeq: this.opSeq,
          kind: FrameKind.broadcast,
          format,
          step: 0,
          elementOffset: chunk.offset,
          elementCount: chunk.count
        },
        this.data.subarray(chunk.offset, chunk.offset + chunk.count)
      );
    }
  }

  onFrame(frame: DecodedFrame, raw: Buffer): void {
    if (frame.kind !== FrameKind.broadcast)
      throw protocolError(this, this.context, `kind ${frame.kind} instead of broadcast`);
    if (frame.format !== 'f32') throw protocolError(this, this.context, `wire ${frame.format} instead of f32`);
    const problem = this.ledger.admit(frame.step, frame.elementOffset, frame.elementCount);
    if (problem !== undefined) throw protocolError(this, this.context, `${problem} (root ${this.root})`);
    if (frame.payload.length !== frame.elementCount * 4) {
      throw protocolError(
        this,
        this.context,
        `payload of ${frame.payload.length} bytes for ${frame.elementCount} f32 values`
      );
    }
    const target = this.data.subarray(frame.elementOffset, frame.elementOffset + frame.elementCount);
    frame.payload.copy(Buffer.from(target.buffer, target.byteOffset, target.byteLength));
    if (this.distance < this.context.worldSize - 1) this.context.forward(raw, frame.step + 1);
  }
}

/** Every rank's small value to every rank: each value travels N−1 hops around the ring. */
export class AllGatherOperation implements RingOperation {
  readonly name: string;
  readonly values: Uint8Array[];
  private received = 0;

  constructor(
    private readonly context: RingContext,
    private readonly opSeq: number,
    private readonly ownValue: Uint8Array
  ) {
    this.name = `allGather#${opSeq}`;
    this.values = new Array<Uint8Array>(context.worldSize);
    this.values[context.rank] = ownValue;
  }

  get done(): boolean {
    return this.received === this.context.worldSize - 1;
  }

  start(): void {
    const { rank } = this.context;
    this.context.sendBytes(
      {
        opSeq: this.opSeq,
        kind: FrameKind.allGather,
        format: 'bytes',
        step: 0,
        elementOffset: rank,
        elementCount: this.ownValue.length
      },
      this.ownValue
    );
  }

  onFrame(frame: DecodedFrame, raw: Buffer): void {
    const { rank, worldSize } = this.context;
    if (frame.kind !== FrameKind.allGather)
      throw protocolError(this, this.context, `kind ${frame.kind} instead of all-gather`);
    const expectedStep = this.received;
    const origin = ringIndex(rank - 1 - expectedStep, worldSize);
    if (frame.step !== expectedStep || frame.elementOffset !== origin) {
      throw protocolError(
        this,
        this.context,
        `step ${frame.step} from rank ${frame.elementOffset}, expected step ${expectedStep} from rank ${origin}`
      );
    }
    if (frame.payload.length !== frame.elementCount)
      throw protocolError(this, this.context, 'payload length differs from its count');
    this.values[origin] = Uint8Array.from(frame.payload);
    this.received += 1;
    if (frame.step < worldSize - 2) this.context.forward(raw, frame.step + 1);
  }
}
