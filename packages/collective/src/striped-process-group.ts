import { allReduceInBuckets } from './buckets.js';
import type { CollectiveEndpoint } from './endpoint.js';
import { CollectiveArgumentError, type CollectiveError, GroupClosedError } from './errors.js';
import {
  DEFAULT_BUCKET_BYTES,
  ProcessGroup,
  validateConfig,
  type AllReduceOptions,
  type CollectiveGroup,
  type JsonValue,
  type ProcessGroupConfig,
  type ProcessGroupStats
} from './process-group.js';
import { ThreadedEndpoint, ThreadedProcessGroup } from './threaded-process-group.js';

/**
 * Below this many elements per stripe an operation is not cut: each slice would be a few frames, its cost the
 * ring's latency, which K links pay K times over.
 */
export const MIN_STRIPE_ELEMENTS = 256 * 1024;

/**
 * How an operation on `length` elements is cut over `stripes` links: consecutive slices whose lengths differ by
 * at most one, as many as leave each at least MIN_STRIPE_ELEMENTS (one, for a small buffer). A function of the
 * length alone, so every rank cuts the same slices and reduces each on the same stripe.
 */
export function stripeSlices(length: number, stripes: number): { start: number; end: number }[] {
  const count = Math.max(1, Math.min(stripes, Math.floor(length / MIN_STRIPE_ELEMENTS)));
  const base = Math.floor(length / count);
  const longer = length % count;
  const slices: { start: number; end: number }[] = [];
  let start = 0;
  for (let stripe = 0; stripe < count; stripe += 1) {
    const end = start + base + (stripe < longer ? 1 : 0);
    slices.push({ start, end });
    start = end;
  }
  return slices;
}

/** A stripe's host is its rank's advertised one; only the port differs (what the rank's stripe listened on). */
function withPort(address: string, port: number): string {
  return `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/**
 * K rings over the same ranks, each link its own HTTP/2 connection served by its own collective thread: one
 * thread's framing and reduction (a few Gbit/s on a server core) is then no longer the ceiling of a rank's
 * collective. A large all-reduce or broadcast is cut into K slices (stripeSlices), each reduced on its stripe's
 * ring, all at once; small operations and allGather run on stripe 0. Same interface and guarantees as a
 * ThreadedProcessGroup: operations in call order on every stripe, bit-identical results on every rank (each
 * slice's sum is its stripe ring's, the same everywhere), and a failure of any stripe fails the whole group on
 * every rank.
 *
 * Stripe 0 is the rank's endpoint as registered (`peers`); the others listen on endpoints the first group
 * starts (ThreadedEndpoint.stripeEndpoint) and their ports are exchanged over stripe 0 when the group forms.
 */
export class StripedProcessGroup implements CollectiveGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly groupId: string;
  readonly generation: number;
  private readonly abortController = new AbortController();
  private readonly bucketElements: number;
  private readonly totals: ProcessGroupStats = {
    bytesSent: 0,
    bytesReceived: 0,
    unalignedFrames: 0,
    sendBuffersAllocated: 0
  };

  private constructor(
    private readonly stripes: readonly ThreadedProcessGroup[],
    private readonly endpoint: ThreadedEndpoint,
    config: ProcessGroupConfig
  ) {
    this.rank = config.rank;
    this.worldSize = config.worldSize;
    this.groupId = config.groupId;
    this.generation = config.generation;
    this.bucketElements = Math.max(1, Math.floor((config.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4));
    for (const [index, stripe] of stripes.entries()) {
      const onAbort = () => this.stripeFailed(index, stripe.signal.reason as CollectiveError);
      if (stripe.signal.aborted) onAbort();
      else stripe.signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /**
   * Forms stripe 0 on `endpoint` with `config.peers`, learns every rank's stripe ports over it, then forms
   * stripes 1 … K−1 side by side. Every rank must ask for the same number of stripes.
   */
  static async connect(endpoint: ThreadedEndpoint, config: ProcessGroupConfig): Promise<StripedProcessGroup> {
    validateConfig(config);
    const count = config.stripes ?? 1;
    const single = { ...config, stripes: 1 };
    const first = await ThreadedProcessGroup.connect(endpoint, single);
    const others: ThreadedProcessGroup[] = [];
    try {
      const extra = await Promise.all(
        Array.from({ length: count - 1 }, (_, index) => endpoint.stripeEndpoint(index + 1))
      );
      const ports = await first.allGather(extra.map((stripe) => portOf(stripe.address)));
      for (const [rank, rankPorts] of ports.entries()) {
        if (rankPorts.length !== count - 1)
          throw new CollectiveArgumentError(
            `rank ${rank} links with ${rankPorts.length + 1} stripes and rank ${config.rank} with ${count}: give every rank the same collective stripes`,
            'connect',
            rank
          );
      }
      const formed = await Promise.allSettled(
        extra.map((stripeEndpoint, index) =>
          ThreadedProcessGroup.connect(stripeEndpoint, {
            ...single,
            // A stripe links only to the same stripe of its neighbour: a link crossed by mistake is refused.
            groupId: `${config.groupId}#stripe-${index + 1}`,
            peers: config.peers.map((address, rank) => withPort(address, ports[rank]![index]!))
          })
        )
      );
      for (const outcome of formed) if (outcome.status === 'fulfilled') others.push(outcome.value);
      const failed = formed.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      for (const stripe of [first, ...others]) stripe.abort(`forming the stripes failed: ${reason}`);
      await Promise.allSettled([first, ...others].map((stripe) => stripe.close()));
      throw error;
    }
    return new StripedProcessGroup([first, ...others], endpoint, config);
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** The stripes' counters summed, as of each one's last settled operation. */
  get stats(): Readonly<ProcessGroupStats> {
    this.totals.bytesSent = 0;
    this.totals.bytesReceived = 0;
    this.totals.unalignedFrames = 0;
    this.totals.sendBuffersAllocated = 0;
    for (const stripe of this.stripes) {
      const stats = stripe.stats;
      this.totals.bytesSent += stats.bytesSent;
      this.totals.bytesReceived += stats.bytesReceived;
      this.totals.unalignedFrames += stats.unalignedFrames;
      this.totals.sendBuffersAllocated += stats.sendBuffersAllocated;
    }
    return this.totals;
  }

  /** When the last stripe settled its last operation (epoch milliseconds, as ThreadedProcessGroup's). */
  get lastSettledAtMs(): number {
    return Math.max(...this.stripes.map((stripe) => stripe.lastSettledAtMs));
  }

  /** Links per ring edge. */
  get stripeCount(): number {
    return this.stripes.length;
  }

  allReduce(data: Float32Array, options: AllReduceOptions = {}): Promise<void> {
    return this.acrossStripes(data, (stripe, slice) => stripe.allReduce(slice, options));
  }

  allReduceMany(tensors: readonly Float32Array[], options: AllReduceOptions = {}): Promise<void> {
    return allReduceInBuckets(tensors, this.bucketElements, this.endpoint.staging, (bucket) =>
      this.allReduce(bucket, options)
    );
  }

  broadcast(data: Float32Array, root: number): Promise<void> {
    return this.acrossStripes(data, (stripe, slice) => stripe.broadcast(slice, root));
  }

  async allGather<T extends JsonValue>(value: T): Promise<T[]> {
    this.throwIfFailed();
    return this.stripes[0]!.allGather(value);
  }

  async barrier(): Promise<void> {
    this.throwIfFailed();
    await this.stripes[0]!.barrier();
  }

  /** Leaves every stripe's ring cleanly (each a barrier, then goodbye). */
  async close(): Promise<void> {
    await Promise.all(this.stripes.map((stripe) => stripe.close()));
  }

  abort(reason: string): void {
    if (!this.abortController.signal.aborted)
      this.abortController.abort(new GroupClosedError(`rank ${this.rank} aborted the group: ${reason}`, 'abort'));
    for (const stripe of this.stripes) stripe.abort(reason);
  }

  /** As ProcessGroup: once the group failed, every later operation is refused at once, naming the failure. */
  private throwIfFailed(): void {
    const failure = this.abortController.signal.reason as CollectiveError | undefined;
    if (failure === undefined) return;
    throw new GroupClosedError(`the process group already failed: ${failure.message}`, 'enqueue', failure.peerRank, {
      cause: failure
    });
  }

  /** One stripe failed: the others are aborted (their peers learn it as they do), the group fails with its error. */
  private stripeFailed(index: number, error: CollectiveError): void {
    if (this.abortController.signal.aborted) return;
    this.abortController.abort(error);
    for (const [other, stripe] of this.stripes.entries())
      if (other !== index) stripe.abort(`stripe ${index} failed: ${error.message}`);
  }

  /**
   * Runs `operation` on each stripe's slice of `data` at once. A failure is the group's: the first error (the
   * signal's reason, the root cause rather than the aborts it caused on other stripes) is thrown once every
   * slice has settled, so no stripe still holds the buffer.
   */
  private async acrossStripes(
    data: Float32Array,
    operation: (stripe: ThreadedProcessGroup, slice: Float32Array) => Promise<void>
  ): Promise<void> {
    this.throwIfFailed();
    const slices = stripeSlices(data.length, this.stripes.length);
    const outcomes = await Promise.allSettled(
      slices.map((slice, index) => operation(this.stripes[index]!, data.subarray(slice.start, slice.end)))
    );
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed === undefined) return;
    throw this.abortController.signal.aborted ? (this.abortController.signal.reason as Error) : failed.reason;
  }
}

/**
 * Forms the group `config` describes on `endpoint`, whichever kind it is: on this thread (CollectiveEndpoint),
 * on the endpoint's thread, or over `config.stripes` threads.
 */
export function connectGroup(
  endpoint: CollectiveEndpoint | ThreadedEndpoint,
  config: ProcessGroupConfig
): Promise<CollectiveGroup> {
  if (!(endpoint instanceof ThreadedEndpoint)) return ProcessGroup.connect(endpoint, config);
  return (config.stripes ?? 1) > 1
    ? StripedProcessGroup.connect(endpoint, config)
    : ThreadedProcessGroup.connect(endpoint, config);
}
