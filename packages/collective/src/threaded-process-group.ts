import { Worker } from 'node:worker_threads';
import { STRIPE_PORT_STEP } from '@ringtrain/proto';
import { allReduceInBuckets } from './buckets.js';
import {
  STATS_BYTES,
  STATS_SLOTS,
  type CollectiveThreadData,
  type FromCollectiveThread,
  type SharedSpan,
  type ToCollectiveThread
} from './collective-thread-protocol.js';
import type { EndpointOptions } from './endpoint.js';
import {
  type CollectiveError,
  GroupClosedError,
  reviveCollectiveError,
  serializeCollectiveError,
  type SerializedCollectiveError
} from './errors.js';
import {
  DEFAULT_BUCKET_BYTES,
  requireOneStripe,
  validateConfig,
  type AllReduceOptions,
  type CollectiveGroup,
  type JsonValue,
  type ProcessGroupConfig,
  type ProcessGroupStats
} from './process-group.js';

/**
 * The thread's module. Built (this file runs as dist/threaded-process-group.js), the compiled
 * collective-thread.js; from the TypeScript sources, an entry that first registers tsx in the thread, which
 * shares none of this thread's loader hooks.
 */
const COLLECTIVE_THREAD_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './collective-thread-entry.mjs' : './collective-thread.js',
  import.meta.url
);

/** How long closing waits for the thread to close its groups and endpoint before it is terminated. */
const SHUTDOWN_GRACE_MS = 10_000;

interface PendingCall {
  resolve: (values: JsonValue[] | undefined) => void;
  reject: (error: Error) => void;
}

/**
 * Shared-memory Float32Arrays for callers that pass ordinary ones: the values are copied in before the
 * operation and back after it. A training loop reduces the same sizes every step, so once warm the pool
 * hands out the buffers it already has and allocates nothing.
 */
export class SharedStagingPool {
  private readonly free: Float32Array[] = [];
  private freeBytes = 0;
  private allocated = 0;

  /**
   * @param maxFreeBytes what the pool keeps while idle: a one-off operation (a broadcast of the whole trainer
   * at start) does not pin its buffer for the rest of the run; the largest idle buffers go first.
   */
  constructor(private readonly maxFreeBytes = 128 * 1024 * 1024) {}

  acquire(length: number): Float32Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i += 1) {
      const capacity = this.free[i]!.length;
      if (capacity >= length && (best < 0 || capacity < this.free[best]!.length)) best = i;
    }
    if (best >= 0) {
      const [buffer] = this.free.splice(best, 1);
      this.freeBytes -= buffer!.byteLength;
      return buffer!.subarray(0, length);
    }
    this.allocated += 1;
    return new Float32Array(new SharedArrayBuffer(Math.max(1, length) * 4), 0, length);
  }

  release(staged: Float32Array): void {
    const whole = new Float32Array(staged.buffer, 0, staged.buffer.byteLength / 4);
    this.free.push(whole);
    this.freeBytes += whole.byteLength;
    while (this.freeBytes > this.maxFreeBytes) {
      let largest = 0;
      for (let i = 1; i < this.free.length; i += 1) if (this.free[i]!.length > this.free[largest]!.length) largest = i;
      const [dropped] = this.free.splice(largest, 1);
      this.freeBytes -= dropped!.byteLength;
    }
  }

  /** Shared buffers ever allocated: flat once warm (tests watch it). */
  get allocatedCount(): number {
    return this.allocated;
  }
}

function isShared(data: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;
}

function span(data: Float32Array): SharedSpan {
  return { memory: data.buffer as SharedArrayBuffer, byteOffset: data.byteOffset, length: data.length };
}

/**
 * A rank's listening side of the ring (CollectiveEndpoint) and every group formed on it, run on a worker
 * thread of their own: links, framing and reduction keep going while this thread is blocked by a synchronous
 * TensorFlow step. Like CollectiveEndpoint, it lives across generations; form a group on it with
 * `ThreadedProcessGroup.connect`.
 */
export class ThreadedEndpoint {
  /** Float32Arrays over SharedArrayBuffers are handed to the thread as they are; others are staged here. */
  readonly staging = new SharedStagingPool();
  private readonly pending = new Map<number, PendingCall>();
  private readonly groups = new Map<number, ThreadedProcessGroup>();
  private nextCall = 0;
  private nextGroup = 0;
  private threadFailure: CollectiveError | undefined;
  private closed = false;
  /** Resolves when the thread has exited, however it ended. */
  private readonly exited: Promise<void>;

  /** Stripe k's endpoint (k ≥ 1), each on a thread of its own, started by the first group that needs it. */
  private readonly stripes = new Map<number, Promise<ThreadedEndpoint>>();

  private constructor(
    private readonly thread: Worker,
    readonly address: string,
    private readonly options: EndpointOptions
  ) {
    this.exited = new Promise((resolve) => thread.once('exit', () => resolve()));
    thread.on('message', (message: FromCollectiveThread) => this.onMessage(message));
    const died = (why: string) => {
      this.threadFailure ??= new GroupClosedError(`the collective thread ${why}`, 'thread');
      for (const group of this.groups.values()) group.threadFailed(this.threadFailure);
      const calls = [...this.pending.values()];
      this.pending.clear();
      for (const call of calls) call.reject(this.threadFailure);
    };
    thread.on('error', (error) => died(`failed: ${error.message}`));
    thread.on('exit', (code) => died(this.closed ? 'has exited' : `exited unexpectedly (code ${code})`));
  }

  /** Starts the thread and listens there; `address` is where the right neighbour links to. */
  static async listen(options: EndpointOptions = {}): Promise<ThreadedEndpoint> {
    const data: CollectiveThreadData = { endpoint: options };
    const thread = new Worker(COLLECTIVE_THREAD_ENTRY, { workerData: data, name: 'collective' });
    const address = await new Promise<string>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new Error(`the collective thread exited (code ${code}) before listening`));
      thread.once('error', reject);
      thread.once('exit', onExit);
      thread.once('message', (message: FromCollectiveThread) => {
        thread.off('error', reject);
        thread.off('exit', onExit);
        if (message.kind === 'listening') resolve(message.address);
        else if (message.kind === 'listen-failed') reject(reviveCollectiveError(message.error));
        else reject(new Error(`the collective thread said ${message.kind} before listening`));
      });
    });
    return new ThreadedEndpoint(thread, address, options);
  }

  /**
   * The endpoint of this rank's stripe `stripe` (≥ 1), listening on a thread of its own with the same options:
   * on port + stripe · STRIPE_PORT_STEP when this endpoint has a fixed port (a pod declares each), on any free
   * port otherwise. Started once, kept across generations, closed with this endpoint.
   */
  stripeEndpoint(stripe: number): Promise<ThreadedEndpoint> {
    if (this.closed) return Promise.reject(new GroupClosedError('the threaded endpoint is closed', 'connect'));
    let endpoint = this.stripes.get(stripe);
    if (endpoint === undefined) {
      const port =
        this.options.port === undefined || this.options.port === 0 ? 0 : this.options.port + stripe * STRIPE_PORT_STEP;
      endpoint = ThreadedEndpoint.listen({ ...this.options, port });
      // A stripe that could not listen is tried again by the next group rather than failing every later one.
      endpoint.catch(() => this.stripes.delete(stripe));
      this.stripes.set(stripe, endpoint);
    }
    return endpoint;
  }

  /** Closes every group still open on it, the endpoint, and the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    const stripes = [...this.stripes.values()];
    this.stripes.clear();
    await Promise.allSettled(stripes.map((stripe) => stripe.then((endpoint) => endpoint.close())));
    try {
      // Closing open groups says goodbye to their peers; one that does not answer must not hold the thread forever.
      let timer: NodeJS.Timeout | undefined;
      if (this.threadFailure === undefined)
        await Promise.race([
          this.request({ kind: 'shutdown', call: this.nextCall++ }),
          new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)))
        ]);
      clearTimeout(timer);
    } finally {
      this.closed = true;
      const timer = setTimeout(() => void this.thread.terminate(), 2_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** @internal Forms a group in the thread; ThreadedProcessGroup.connect is the public way. */
  async connectGroup(config: ProcessGroupConfig): Promise<ThreadedProcessGroup> {
    validateConfig(config);
    requireOneStripe(config);
    const id = this.nextGroup++;
    const stats = new SharedArrayBuffer(STATS_BYTES);
    const group = new ThreadedProcessGroup(this, id, config, new Float64Array(stats));
    this.groups.set(id, group);
    try {
      await this.request({ kind: 'connect', call: this.nextCall++, group: id, config, stats });
    } catch (error) {
      this.groups.delete(id);
      throw error;
    }
    return group;
  }

  /** @internal */
  request(message: ToCollectiveThread & { call: number }): Promise<JsonValue[] | undefined> {
    if (this.threadFailure !== undefined || this.closed) {
      return Promise.reject(
        new GroupClosedError(
          this.threadFailure?.message ?? 'the threaded endpoint is closed',
          message.kind,
          undefined,
          this.threadFailure === undefined ? undefined : { cause: this.threadFailure }
        )
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.set(message.call, { resolve, reject });
      this.thread.postMessage(message);
    });
  }

  /** @internal */
  post(message: ToCollectiveThread): void {
    if (this.threadFailure === undefined && !this.closed) this.thread.postMessage(message);
  }

  /** @internal */
  callNumber(): number {
    return this.nextCall++;
  }

  /** @internal */
  forget(group: number): void {
    this.groups.delete(group);
  }

  private onMessage(message: FromCollectiveThread): void {
    if (message.kind === 'settled') {
      const call = this.pending.get(message.call);
      this.pending.delete(message.call);
      if (message.error !== undefined) call?.reject(reviveCollectiveError(message.error));
      else call?.resolve(message.values);
    } else if (message.kind === 'failed') {
      this.groups.get(message.group)?.groupFailed(message.error);
    }
  }
}

/**
 * A ProcessGroup run on its endpoint's thread, with the same API and guarantees: operations in call order,
 * typed errors naming the peer (re-created here from what the thread sends), deadlines, bit-identical
 * results. `allReduce` hands the buffer to the thread and returns at once; the caller may block its event
 * loop (a TensorFlow step) and await the promise later, the bytes moved meanwhile. Buffers over a
 * SharedArrayBuffer are reduced where they lie; others are copied through the endpoint's staging pool.
 * Until an operation's promise settles, its buffer belongs to the collective: do not read or write it.
 */
export class ThreadedProcessGroup implements CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly groupId: string;
  readonly generation: number;
  private readonly abortController = new AbortController();
  private readonly bucketElements: number;
  private readonly statsView: ProcessGroupStats = {
    bytesSent: 0,
    bytesReceived: 0,
    unalignedFrames: 0,
    sendBuffersAllocated: 0
  };

  /** @internal Made by ThreadedProcessGroup.connect. */
  constructor(
    private readonly endpoint: ThreadedEndpoint,
    private readonly id: number,
    config: ProcessGroupConfig,
    private readonly sharedStats: Float64Array
  ) {
    this.rank = config.rank;
    this.worldSize = config.worldSize;
    this.groupId = config.groupId;
    this.generation = config.generation;
    this.bucketElements = Math.max(1, Math.floor((config.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4));
  }

  /** Forms the group in `endpoint`'s thread: links to the left neighbour and waits for the right one. */
  static connect(endpoint: ThreadedEndpoint, config: ProcessGroupConfig): Promise<ThreadedProcessGroup> {
    return endpoint.connectGroup(config);
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** The thread's counters as of the last operation that settled. */
  get stats(): Readonly<ProcessGroupStats> {
    this.statsView.bytesSent = this.sharedStats[STATS_SLOTS.bytesSent]!;
    this.statsView.bytesReceived = this.sharedStats[STATS_SLOTS.bytesReceived]!;
    this.statsView.unalignedFrames = this.sharedStats[STATS_SLOTS.unalignedFrames]!;
    this.statsView.sendBuffersAllocated = this.sharedStats[STATS_SLOTS.sendBuffersAllocated]!;
    return this.statsView;
  }

  /**
   * When the collective thread settled the last operation, in epoch milliseconds (performance.timeOrigin +
   * performance.now() there): how a caller tells that an operation finished while its own thread was blocked.
   */
  get lastSettledAtMs(): number {
    return this.sharedStats[STATS_SLOTS.lastSettledAtMs]!;
  }

  /** Sums (or averages) `data` element-wise across ranks, in place. */
  allReduce(data: Float32Array, options: AllReduceOptions = {}): Promise<void> {
    return this.inSharedMemory(data, (shared) =>
      this.endpoint.request({
        kind: 'allReduce',
        call: this.endpoint.callNumber(),
        group: this.id,
        data: span(shared),
        options
      })
    );
  }

  /**
   * Like ProcessGroup.allReduceMany (same buckets, so threaded and unthreaded ranks agree), but every bucket
   * is handed to the thread before the first is awaited: the thread reduces them back to back.
   */
  allReduceMany(tensors: readonly Float32Array[], options: AllReduceOptions = {}): Promise<void> {
    return allReduceInBuckets(tensors, this.bucketElements, this.endpoint.staging, (bucket) =>
      this.allReduce(bucket, options)
    );
  }

  /** Copies `root`'s `data` into every rank's `data` (same length everywhere). */
  broadcast(data: Float32Array, root: number): Promise<void> {
    return this.inSharedMemory(data, (shared) =>
      this.endpoint.request({
        kind: 'broadcast',
        call: this.endpoint.callNumber(),
        group: this.id,
        data: span(shared),
        root
      })
    );
  }

  /** Every rank's small JSON value, indexed by rank (for counts, metrics, addresses; not for tensors). */
  async allGather<T extends JsonValue>(value: T): Promise<T[]> {
    const values = await this.endpoint.request({
      kind: 'allGather',
      call: this.endpoint.callNumber(),
      group: this.id,
      value
    });
    return values as T[];
  }

  /** Returns once every rank has called barrier. */
  async barrier(): Promise<void> {
    await this.allGather(null);
  }

  /** Leaves the group cleanly, as ProcessGroup.close does (in the thread). */
  async close(): Promise<void> {
    try {
      await this.endpoint.request({ kind: 'close', call: this.endpoint.callNumber(), group: this.id });
    } catch {
      // The thread is gone: so is the group.
    } finally {
      this.endpoint.forget(this.id);
    }
  }

  /** Fails the group on purpose (e.g. the coordinator ended this generation): peers fail fast too. */
  abort(reason: string): void {
    // The signal aborts at once, as ProcessGroup's does; the thread fails the group and tells the peers.
    if (!this.abortController.signal.aborted)
      this.abortController.abort(new GroupClosedError(`rank ${this.rank} aborted the group: ${reason}`, 'abort'));
    this.endpoint.post({ kind: 'abort', group: this.id, reason });
  }

  /** @internal The thread reported the group's failure. */
  groupFailed(error: SerializedCollectiveError): void {
    if (!this.abortController.signal.aborted) this.abortController.abort(reviveCollectiveError(error));
  }

  /** @internal The thread itself is gone. */
  threadFailed(error: CollectiveError): void {
    this.groupFailed(serializeCollectiveError(error));
  }

  /** Runs `operation` on `data` itself if it is shared, else on a staged copy that is copied back after. */
  private inSharedMemory(
    data: Float32Array,
    operation: (shared: Float32Array) => Promise<JsonValue[] | undefined>
  ): Promise<void> {
    if (isShared(data)) return operation(data).then(() => undefined);
    const staged = this.endpoint.staging.acquire(data.length);
    staged.set(data);
    return operation(staged).then(
      () => {
        data.set(staged);
        this.endpoint.staging.release(staged);
      },
      (error: unknown) => {
        this.endpoint.staging.release(staged);
        throw error;
      }
    );
  }
}
