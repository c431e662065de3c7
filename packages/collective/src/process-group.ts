import { status } from '@grpc/grpc-js';
import { MAX_COLLECTIVE_STRIPES } from '@ringtrain/proto';
import { bucketRanges, packBucket, unpackBucket } from './buckets.js';
import { BufferPool } from './buffer-pool.js';
import { DEFAULT_KEEPALIVE_TIMEOUT_MS, type CollectiveEndpoint } from './endpoint.js';
import {
  CollectiveArgumentError,
  CollectiveError,
  CollectiveTimeoutError,
  GroupClosedError,
  PeerLostError,
  ProtocolError
} from './errors.js';
import { decodeFrame, FRAME_HEADER_BYTES, writeFrameHeader, type FrameHeader } from './frame.js';
import {
  AllGatherOperation,
  AllReduceOperation,
  BroadcastOperation,
  type RingContext,
  type RingOperation
} from './operations.js';
import {
  GRPC_PREFIX_BYTES,
  WIRE_HEADER_BYTES,
  writeMessagePrefix,
  type DownstreamLink,
  type LinkStatus,
  type UpstreamLink
} from './link.js';
import { formRing, ringNeighbours } from './ring-formation.js';
import { bytesPerElement, encodeHalf, WIRE_FORMATS, type WireFormat } from './wire-format.js';

const MiB = 1024 * 1024;
/** Measured best on loopback for ResNet18-sized buffers (docs/benchmarks.md): fewer, larger gRPC messages. */
const DEFAULT_CHUNK_BYTES = 4 * MiB;
/** PyTorch DDP's default bucket. */
export const DEFAULT_BUCKET_BYTES = 25 * MiB;
/** The most links per ring edge (a TrainingRun's hyperparameters.collectiveStripes has the same bound). */
export const MAX_STRIPES = MAX_COLLECTIVE_STRIPES;

export interface ProcessGroupConfig {
  /** The run id: ranks of different runs never link. */
  groupId: string;
  /** Bumped on every gang restart; links from older generations are refused. */
  generation: number;
  rank: number;
  worldSize: number;
  /** `host:port` of every rank's endpoint, indexed by rank. */
  peers: readonly string[];
  /** Shared secret of the run; a peer presenting another token is refused. */
  token: string;
  /** An operation fails if no data arrives from the left neighbour for this long (Gloo's default: 30 s). */
  timeoutMs?: number;
  /** Forming the group (both ring links up) must finish within this. */
  connectTimeoutMs?: number;
  /** Size of one frame's f32 payload; smaller pipelines deeper, larger costs fewer calls. */
  chunkBytes?: number;
  /** `allReduceMany` fuses tensors into buckets of about this many bytes (PyTorch DDP's default: 25 MiB). */
  bucketBytes?: number;
  /** HTTP/2 receive window of the link this rank reads from. */
  flowControlWindowBytes?: number;
  /** Keepalive of the link to the left neighbour (see EndpointOptions): ping after this much silence... */
  keepaliveTimeMs?: number;
  /** ...and fail the group when a ping is unanswered this long: more than the longest synchronous step. */
  keepaliveTimeoutMs?: number;
  /**
   * Links per ring edge, each its own HTTP/2 connection served by its own collective thread; a large
   * operation is cut into this many slices, reduced side by side (StripedProcessGroup). Needs a
   * ThreadedEndpoint; 1 (the default) is one link.
   */
  stripes?: number;
}

export interface AllReduceOptions {
  op?: 'sum' | 'mean';
  /** f16/bf16 halve the bytes on the wire; every rank still ends with identical values. */
  wire?: WireFormat;
}

/** A value that survives JSON.stringify → JSON.parse unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ProcessGroupStats {
  bytesSent: number;
  bytesReceived: number;
  /** Frames whose payload arrived unaligned, so they were copied before reducing (none with our reader). */
  unalignedFrames: number;
  /** Send buffers ever allocated: constant in steady state. */
  sendBuffersAllocated: number;
}

/**
 * What a rank can do with its group, whichever thread runs the ring: ProcessGroup on the caller's own
 * thread, ThreadedProcessGroup on a thread of its own (threaded-process-group.ts).
 */
export interface CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly groupId: string;
  readonly generation: number;
  readonly stats: Readonly<ProcessGroupStats>;
  /** Aborted, with the CollectiveError as its reason, the moment the group fails. */
  readonly signal: AbortSignal;
  allReduce(data: Float32Array, options?: AllReduceOptions): Promise<void>;
  allReduceMany(tensors: readonly Float32Array[], options?: AllReduceOptions): Promise<void>;
  broadcast(data: Float32Array, root: number): Promise<void>;
  allGather<T extends JsonValue>(value: T): Promise<T[]>;
  barrier(): Promise<void>;
  close(): Promise<void>;
  abort(reason: string): void;
}

interface QueuedOperation {
  opSeq: number;
  operation: RingOperation;
  resolve: () => void;
  reject: (error: CollectiveError) => void;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new CollectiveArgumentError(`${name} must be a positive integer, got ${value}`, 'connect');
  }
  return value;
}

export function validateConfig(config: ProcessGroupConfig): void {
  positiveInteger(config.worldSize, 'worldSize');
  if (!Number.isInteger(config.rank) || config.rank < 0 || config.rank >= config.worldSize) {
    throw new CollectiveArgumentError(`rank must be in 0..${config.worldSize - 1}, got ${config.rank}`, 'connect');
  }
  if (config.peers.length !== config.worldSize) {
    throw new CollectiveArgumentError(
      `peers must list ${config.worldSize} addresses (one per rank), got ${config.peers.length}`,
      'connect'
    );
  }
  if (!Number.isInteger(config.generation) || config.generation < 0) {
    throw new CollectiveArgumentError(`generation must be a non-negative integer, got ${config.generation}`, 'connect');
  }
  if (config.token.length === 0) throw new CollectiveArgumentError('token must not be empty', 'connect');
  const chunkBytes = config.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes < 16 || chunkBytes > 16 * MiB || chunkBytes % 4 !== 0) {
    throw new CollectiveArgumentError(
      `chunkBytes must be a multiple of 4 between 16 B and 16 MiB, got ${chunkBytes}`,
      'connect'
    );
  }
  const stripes = config.stripes ?? 1;
  if (!Number.isInteger(stripes) || stripes < 1 || stripes > MAX_STRIPES) {
    throw new CollectiveArgumentError(`stripes must be an integer from 1 to ${MAX_STRIPES}, got ${stripes}`, 'connect');
  }
  // The accepting side buffers at most ACCEPTED_SESSION_MEMORY_MB per session: a window must leave room for it.
  const window = config.flowControlWindowBytes;
  if (window !== undefined && (!Number.isInteger(window) || window < 64 * 1024 || window > MAX_WINDOW_BYTES)) {
    throw new CollectiveArgumentError(
      `flowControlWindowBytes must be an integer between 64 KiB and ${MAX_WINDOW_BYTES / MiB} MiB, got ${window}`,
      'connect'
    );
  }
}

/** A ProcessGroup (or one ThreadedProcessGroup) is one link per edge; more are StripedProcessGroup's. */
export function requireOneStripe(config: ProcessGroupConfig): void {
  if ((config.stripes ?? 1) > 1)
    throw new CollectiveArgumentError(
      `stripes ${config.stripes} needs a collective thread per stripe: form the group with connectGroup (or StripedProcessGroup.connect) on a ThreadedEndpoint`,
      'connect'
    );
}

/** How long a two-rank group whose peer cancelled a link waits for the peer's reason on the other link. */
const PEER_REASON_GRACE_MS = 250;

/** The largest receive window a link may ask for (HTTP/2 allows 2 GiB; the accepting side's memory cap does not). */
const MAX_WINDOW_BYTES = 128 * MiB;

/**
 * A group of `worldSize` ranks joined in a ring: each rank reads from its left neighbour's endpoint and
 * writes to its right neighbour over one long-lived gRPC stream per edge. Operations run one at a time in
 * call order and must be called in the same order on every rank. Any failure aborts the whole group (every
 * rank's pending and later operations fail, and `signal` aborts with the error): make a new group with the
 * next generation to go on.
 */
export class ProcessGroup implements CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly groupId: string;
  readonly generation: number;
  readonly stats: ProcessGroupStats = { bytesSent: 0, bytesReceived: 0, unalignedFrames: 0, sendBuffersAllocated: 0 };

  private readonly abortController = new AbortController();
  private readonly timeoutMs: number;
  private readonly chunkElements: number;
  private readonly bucketElements: number;
  /** Messages this rank encodes (16-bit wires); f32 values are sent from where they lie. */
  private readonly sendPool: BufferPool;
  /** Messages from the left neighbour, reassembled; a forwarded one returns after its write. */
  private readonly receivePool: BufferPool;
  /** Set by `forward` while a received message is processed: its buffer then returns after the write. */
  private forwardedCurrent = false;
  private readonly context: RingContext;
  private readonly leftRank: number;
  private readonly rightRank: number;

  private upstream: UpstreamLink | undefined;
  private downstream: DownstreamLink | undefined;
  private unregister: () => void = () => {};

  private nextOpSeq = 0;
  /** The operation that is running, or runs next: frames of earlier ones are protocol errors. */
  private currentOpSeq = 0;
  private readonly queue: QueuedOperation[] = [];
  private active: QueuedOperation | undefined;
  private readonly early = new Map<number, Buffer[]>();
  private progressTimer: NodeJS.Timeout | undefined;
  private failure: CollectiveError | undefined;
  private closing = false;
  private upstreamHasEnded = false;
  private upstreamEnded: () => void = () => {};
  private readonly upstreamEnd = new Promise<void>((resolve) => (this.upstreamEnded = resolve));
  private alignedScratch = new Float32Array(0);
  /** Frames given to gRPC whose write has not completed yet; an operation returns only at zero. */
  private unflushedWrites = 0;
  private onFlushed: (() => void) | undefined;
  private bucketScratch = new Float32Array(0);

  private constructor(private readonly config: ProcessGroupConfig) {
    this.rank = config.rank;
    this.worldSize = config.worldSize;
    this.groupId = config.groupId;
    this.generation = config.generation;
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.chunkElements = (config.chunkBytes ?? DEFAULT_CHUNK_BYTES) / 4;
    this.bucketElements = Math.max(1, Math.floor((config.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4));
    const neighbours = ringNeighbours(config.rank, config.worldSize);
    this.leftRank = neighbours.leftRank;
    this.rightRank = neighbours.rightRank;
    this.sendPool = new BufferPool(WIRE_HEADER_BYTES + this.chunkElements * 4);
    this.receivePool = new BufferPool(WIRE_HEADER_BYTES + this.chunkElements * 4);
    this.context = {
      rank: this.rank,
      worldSize: this.worldSize,
      chunkElements: this.chunkElements,
      leftRank: this.leftRank,
      sendValues: (header, values) => this.sendValues(header, values),
      sendBytes: (header, bytes) => this.sendBytes(header, bytes),
      forward: (frame, step) => this.forward(frame, step),
      f32View: (payload, count) => this.f32View(payload, count),
      u16View: (payload, count) => new Uint16Array(payload.buffer, payload.byteOffset, count)
    };
  }

  /** Aborted, with the CollectiveError as its reason, the moment the group fails. */
  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** Forms the group: links to the left neighbour and waits for the right one to link here. */
  static async connect(endpoint: CollectiveEndpoint, config: ProcessGroupConfig): Promise<ProcessGroup> {
    validateConfig(config);
    requireOneStripe(config);
    const group = new ProcessGroup(config);
    if (config.worldSize === 1) return group;
    await group.joinRing(endpoint);
    return group;
  }

  private async joinRing(endpoint: CollectiveEndpoint): Promise<void> {
    try {
      this.unregister = await formRing({
        endpoint,
        membership: {
          groupId: this.groupId,
          generation: this.generation,
          worldSize: this.worldSize,
          rank: this.rank,
          token: this.config.token
        },
        peers: this.config.peers,
        connectTimeoutMs: this.config.connectTimeoutMs ?? 60_000,
        windowBytes: this.config.flowControlWindowBytes ?? 32 * MiB,
        keepaliveTimeMs: this.config.keepaliveTimeMs ?? 10_000,
        keepaliveTimeoutMs: this.config.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        receivePool: this.receivePool,
        signal: this.abortController.signal,
        onUpstream: (link) => this.attachUpstream(link),
        onDownstream: (link) => this.attachDownstream(link)
      });
    } catch (error) {
      this.fail(error instanceof CollectiveError ? error : new PeerLostError(String(error), 'connect', this.leftRank));
      throw error;
    }
  }

  private attachUpstream(link: UpstreamLink): void {
    this.upstream = link;
    link.attach({
      message: (wire) => this.onUpstreamFrame(wire),
      ended: (linkStatus: LinkStatus) => {
        this.upstreamHasEnded = true;
        this.upstreamEnded();
        if (this.closing) return;
        if (linkStatus.code === status.OK) {
          // A clean end means the left neighbour is closing the group after the final barrier.
          this.markClosedByPeer();
          return;
        }
        this.fail(
          new PeerLostError(
            `the link from rank ${this.leftRank} ended: ${linkStatus.details}`,
            this.activeName(),
            this.leftRank
          )
        );
      },
      lost: (reason) => {
        if (this.closing) return;
        this.fail(
          new PeerLostError(`the link from rank ${this.leftRank} broke: ${reason}`, this.activeName(), this.leftRank)
        );
      },
      defect: (detail) => {
        if (this.closing) return;
        this.fail(
          new ProtocolError(
            `${this.activeName()}: rank ${this.leftRank} broke the Link protocol: ${detail}`,
            this.activeName(),
            this.leftRank
          )
        );
      }
    });
  }

  private attachDownstream(link: DownstreamLink): void {
    this.downstream = link;
    link.onLost((reason, cancelled) => {
      if (this.closing) return;
      const lost = () =>
        this.fail(
          new PeerLostError(
            `rank ${this.rightRank} dropped its link to this rank: ${reason}`,
            this.activeName(),
            this.rightRank
          )
        );
      // A rank that fails cancels the link it reads and ends the one it writes with its reason, at once. With two
      // ranks both links join the same pair, on two connections, so the cancel may arrive first: wait briefly for
      // the reason (the upstream's end fails the group with it) rather than fail without it.
      if (cancelled && this.leftRank === this.rightRank && !this.upstreamHasEnded) {
        setTimeout(lost, PEER_REASON_GRACE_MS).unref();
        return;
      }
      lost();
    });
  }

  /** Sums (or averages) `data` element-wise across ranks, in place. */
  allReduce(data: Float32Array, options: AllReduceOptions = {}): Promise<void> {
    const reduction = options.op ?? 'sum';
    const wire = options.wire ?? 'f32';
    if (!WIRE_FORMATS.includes(wire))
      return this.rejectArgument(`wire must be one of ${WIRE_FORMATS.join(', ')}, got ${String(wire)}`);
    if (reduction !== 'sum' && reduction !== 'mean')
      return this.rejectArgument(`op must be sum or mean, got ${String(reduction)}`);
    return this.enqueue((opSeq) => new AllReduceOperation(this.context, opSeq, data, reduction, wire));
  }

  /**
   * All-reduces many tensors with few operations: consecutive tensors are packed into buckets of about
   * `bucketBytes`, and a tensor at least that large is reduced in place. The list must have the same shapes
   * in the same order on every rank.
   */
  async allReduceMany(tensors: readonly Float32Array[], options: AllReduceOptions = {}): Promise<void> {
    for (const range of bucketRanges(tensors, this.bucketElements)) {
      if (range.inPlace) {
        await this.allReduce(tensors[range.start]!, options);
        continue;
      }
      if (this.bucketScratch.length < range.elements) this.bucketScratch = new Float32Array(this.bucketElements);
      const bucket = this.bucketScratch.subarray(0, range.elements);
      packBucket(tensors, range, bucket);
      await this.allReduce(bucket, options);
      unpackBucket(bucket, range, tensors);
    }
  }

  /** Copies `root`'s `data` into every rank's `data` (same length everywhere). */
  broadcast(data: Float32Array, root: number): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      return this.rejectArgument(`root must be a rank in 0..${this.worldSize - 1}, got ${root}`);
    }
    return this.enqueue((opSeq) => new BroadcastOperation(this.context, opSeq, data, root));
  }

  /** Every rank's small JSON value, indexed by rank (for counts, metrics, addresses; not for tensors). */
  async allGather<T extends JsonValue>(value: T): Promise<T[]> {
    const bytes = Buffer.from(JSON.stringify(value) ?? 'null');
    if (bytes.length > this.chunkElements * 4) {
      return this.rejectArgument(
        `allGather values must fit one frame (${this.chunkElements * 4} bytes), got ${bytes.length}: use allReduce or broadcast for tensors`
      );
    }
    let operation: AllGatherOperation | undefined;
    await this.enqueue((opSeq) => (operation = new AllGatherOperation(this.context, opSeq, bytes)));
    return operation!.values.map((encoded) => JSON.parse(Buffer.from(encoded).toString('utf8')) as T);
  }

  /** Returns once every rank has called barrier. */
  async barrier(): Promise<void> {
    await this.allGather(null);
  }

  /**
   * Leaves the group cleanly: a barrier, then each rank ends its own outgoing link and waits for its left
   * neighbour to do the same, so no rank mistakes a peer's orderly exit for a crash.
   */
  async close(): Promise<void> {
    if (this.failure === undefined && this.worldSize > 1) {
      try {
        await this.barrier();
      } catch {
        // The group failed on the way out; tear down anyway.
      }
    }
    this.closing = true;
    this.unregister();
    clearTimeout(this.progressTimer);
    this.downstream?.end();
    if (this.failure === undefined && this.upstream !== undefined && !this.upstreamHasEnded) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.upstreamEnd, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
      clearTimeout(timer);
    }
    this.upstream?.cancel();
    if (this.failure === undefined) this.rejectAll(new GroupClosedError('the process group is closed', 'close'));
  }

  /** Fails the group on purpose (e.g. the coordinator ended this generation): peers fail fast too. */
  abort(reason: string): void {
    this.fail(new GroupClosedError(`rank ${this.rank} aborted the group: ${reason}`, this.activeName()));
  }

  private rejectArgument(message: string): Promise<never> {
    return Promise.reject(new CollectiveArgumentError(message, `op#${this.nextOpSeq}`));
  }

  private enqueue(create: (opSeq: number) => RingOperation): Promise<void> {
    if (this.failure !== undefined) {
      return Promise.reject(
        new GroupClosedError(
          `the process group already failed: ${this.failure.message}`,
          'enqueue',
          this.failure.peerRank,
          { cause: this.failure }
        )
      );
    }
    if (this.closing) return Promise.reject(new GroupClosedError('the process group is closed', 'enqueue'));
    const opSeq = this.nextOpSeq;
    const operation = create(opSeq);
    this.nextOpSeq += 1;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ opSeq, operation, resolve, reject });
      if (this.active === undefined) this.startNext();
    });
  }

  private startNext(): void {
    const next = this.queue.shift();
    if (next === undefined) return;
    const opSeq = next.opSeq;
    this.active = next;
    if (this.worldSize === 1) {
      this.complete();
      return;
    }
    this.armProgressTimer();
    try {
      next.operation.start();
      const early = this.early.get(opSeq);
      this.early.delete(opSeq);
      for (const wire of early ?? []) this.consume(wire);
    } catch (error) {
      this.fail(error instanceof CollectiveError ? error : new ProtocolError(String(error), next.operation.name));
      return;
    }
    if (this.active?.operation === next.operation && next.operation.done) this.complete();
  }

  private complete(): void {
    if (this.unflushedWrites > 0) {
      // Return only once the last frames are handed to the socket: a caller that blocks the event loop next
      // (a synchronous training step) would otherwise keep its neighbours waiting for them all that time.
      if (this.onFlushed === undefined) {
        this.armProgressTimer('right');
        this.onFlushed = () => this.complete();
      }
      return;
    }
    this.resolveActive();
    this.startNext();
  }

  /** Resolves the active operation and moves the sequence past it: frames of it are protocol errors from now. */
  private resolveActive(): void {
    const finished = this.active;
    if (finished === undefined) return;
    this.active = undefined;
    this.onFlushed = undefined;
    this.currentOpSeq = finished.opSeq + 1;
    clearTimeout(this.progressTimer);
    finished.resolve();
  }

  /** Fails the group unless the awaited neighbour makes progress within the timeout. */
  private armProgressTimer(awaiting: 'left' | 'right' = 'left'): void {
    clearTimeout(this.progressTimer);
    this.progressTimer = setTimeout(() => {
      const name = this.activeName();
      const peer = awaiting === 'left' ? this.leftRank : this.rightRank;
      const what =
        awaiting === 'left' ? `no data from rank ${peer}` : `rank ${peer} did not read this rank's last frames`;
      this.fail(
        new CollectiveTimeoutError(
          `${name}: ${what} (${this.config.peers[peer]}) for ${this.timeoutMs} ms; it is stalled, overloaded or unreachable`,
          name,
          peer
        )
      );
    }, this.timeoutMs);
  }

  private onUpstreamFrame(wire: Buffer): void {
    if (this.failure !== undefined) return;
    this.stats.bytesReceived += wire.length;
    const opSeq = wire.length >= GRPC_PREFIX_BYTES + 5 ? wire.readUInt32LE(GRPC_PREFIX_BYTES + 1) : -1;
    if (this.active !== undefined && opSeq === this.active.opSeq) {
      this.armProgressTimer();
      try {
        this.consume(wire);
      } catch (error) {
        this.fail(
          error instanceof CollectiveError ? error : new ProtocolError(String(error), this.activeName(), this.leftRank)
        );
        return;
      }
      if (this.active.operation.done) this.complete();
      return;
    }
    if (opSeq < this.currentOpSeq) {
      this.fail(
        new ProtocolError(
          `rank ${this.leftRank} sent a frame of operation #${opSeq}, which this rank has finished`,
          this.activeName(),
          this.leftRank
        )
      );
      return;
    }
    // The left neighbour is already at a later operation: keep its frames until this rank gets there.
    const waiting = this.early.get(opSeq) ?? [];
    waiting.push(wire);
    this.early.set(opSeq, waiting);
  }

  /** Hands a received message to the active operation; its buffer returns to the pool unless forwarded. */
  private consume(wire: Buffer): void {
    this.forwardedCurrent = false;
    try {
      const operation = this.active!.operation;
      const frame = decodeFrame(wire.subarray(GRPC_PREFIX_BYTES));
      if (typeof frame === 'string') {
        throw new ProtocolError(
          `${operation.name}: rank ${this.leftRank} sent a malformed frame: ${frame}`,
          operation.name,
          this.leftRank
        );
      }
      operation.onFrame(frame, wire);
    } finally {
      if (!this.forwardedCurrent) this.receivePool.release(wire);
      this.forwardedCurrent = false;
    }
  }

  /** Queues one message to the right neighbour: `head` and, zero-copy, `payload`. */
  private write(head: Buffer, payload: Uint8Array | undefined, release?: () => void): void {
    if (this.failure !== undefined || this.downstream === undefined) {
      release?.();
      return;
    }
    this.stats.bytesSent += head.length + (payload?.length ?? 0);
    this.unflushedWrites += 1;
    this.downstream.write(head, payload, () => {
      release?.();
      this.unflushedWrites -= 1;
      if (this.unflushedWrites === 0 && this.onFlushed !== undefined) {
        const flushed = this.onFlushed;
        this.onFlushed = undefined;
        flushed();
      }
    });
  }

  private sendValues(header: FrameHeader, values: Float32Array): Uint16Array | undefined {
    const format = header.format;
    if (format === 'bytes') throw new Error('sendValues takes f32, f16 or bf16 frames');
    const payloadBytes = values.length * bytesPerElement(format);
    if (format === 'f32') {
      // The values go out from where they lie: operations never change a chunk between sending it and
      // completing, and an operation completes only once its writes are flushed.
      const head = Buffer.allocUnsafe(WIRE_HEADER_BYTES);
      writeMessagePrefix(head, 0, FRAME_HEADER_BYTES + payloadBytes);
      writeFrameHeader(head, GRPC_PREFIX_BYTES, header, payloadBytes);
      this.write(head, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      return undefined;
    }
    const buffer = this.sendPool.acquire();
    this.stats.sendBuffersAllocated = this.sendPool.allocatedCount;
    writeMessagePrefix(buffer, 0, FRAME_HEADER_BYTES + payloadBytes);
    writeFrameHeader(buffer, GRPC_PREFIX_BYTES, header, payloadBytes);
    const encoded = new Uint16Array(buffer.buffer, buffer.byteOffset + WIRE_HEADER_BYTES, values.length);
    encodeHalf(format, values, encoded);
    this.write(buffer.subarray(0, WIRE_HEADER_BYTES + payloadBytes), undefined, () => this.sendPool.release(buffer));
    return encoded;
  }

  private sendBytes(header: FrameHeader, bytes: Uint8Array): void {
    const message = Buffer.allocUnsafe(WIRE_HEADER_BYTES + bytes.length);
    writeMessagePrefix(message, 0, FRAME_HEADER_BYTES + bytes.length);
    writeFrameHeader(message, GRPC_PREFIX_BYTES, header, bytes.length);
    message.set(bytes, WIRE_HEADER_BYTES);
    this.write(message, undefined);
  }

  /** Re-sends a received message with its step changed; its buffer returns to the pool after the write. */
  private forward(wire: Buffer, step: number): void {
    wire.writeUInt32LE(step, GRPC_PREFIX_BYTES + 11);
    this.forwardedCurrent = true;
    this.write(wire, undefined, () => this.receivePool.release(wire));
  }

  private f32View(payload: Buffer, count: number): Float32Array {
    if (payload.byteOffset % 4 === 0) return new Float32Array(payload.buffer, payload.byteOffset, count);
    this.stats.unalignedFrames += 1;
    if (this.alignedScratch.length < count) this.alignedScratch = new Float32Array(this.chunkElements);
    const scratch = this.alignedScratch.subarray(0, count);
    payload.copy(Buffer.from(scratch.buffer, scratch.byteOffset, scratch.byteLength));
    return scratch;
  }

  private activeName(): string {
    return this.active?.operation.name ?? 'idle';
  }

  private markClosedByPeer(): void {
    if (this.failure !== undefined) return;
    // The left neighbour closes only after the final barrier, which every rank's frames had to reach: an
    // operation holding all its frames is complete, even if its last writes have not reported back yet.
    if (this.active?.operation.done === true) this.resolveActive();
    this.closing = true;
    this.rejectAll(
      new GroupClosedError(`rank ${this.leftRank} closed the process group`, this.activeName(), this.leftRank)
    );
  }

  private rejectAll(error: CollectiveError): void {
    const pending = [...(this.active ? [this.active] : []), ...this.queue.splice(0)];
    this.active = undefined;
    this.onFlushed = undefined;
    for (const operation of pending) operation.reject(error);
  }

  private fail(error: CollectiveError): void {
    if (this.failure !== undefined || (this.closing && !(error instanceof GroupClosedError))) return;
    this.failure = error;
    this.onFlushed = undefined;
    clearTimeout(this.progressTimer);
    this.unregister();
    this.early.clear();
    this.rejectAll(error);
    this.abortController.abort(error);
    // Tell both neighbours at once, so the whole ring fails fast instead of each rank waiting for its deadline.
    this.downstream?.end({ code: status.ABORTED, details: `rank ${this.rank} aborted: ${error.message}` });
    this.upstream?.cancel();
  }
}
