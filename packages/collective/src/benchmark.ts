import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CollectiveEndpoint } from './endpoint.js';
import { connectGroup } from './striped-process-group.js';
import { ThreadedEndpoint } from './threaded-process-group.js';
import { exchangeAddresses, forkRanks, reportFailure, reportResult, type RankLauncher } from './rank-processes.js';
import { ShapedNetwork, type ShapedNetworkOptions } from './shaped-network.js';
import type { TlsFiles } from './tls.js';
import type { WireFormat } from './wire-format.js';

export interface AllReduceBenchmarkOptions {
  workers: number;
  /** f32 payload size in MiB (ResNet18's gradients are 44.6 MiB). */
  mib: number;
  wire: WireFormat;
  iters: number;
  warmup?: number;
  chunkBytes?: number;
  /** Node flags for the rank processes (the CLI passes tsx's loader). */
  execArgv: readonly string[];
  /**
   * Run each rank in its own network namespace behind a link shaped to this rate (root only, see
   * shaped-network.ts); without it the ranks talk over this machine's loopback.
   */
  link?: Omit<ShapedNetworkOptions, 'ranks'>;
  /** Each rank runs its collective on a thread of its own (ThreadedProcessGroup), its buffer in shared memory. */
  thread?: boolean;
  /** Every link mutual TLS with these files (one identity for all ranks, as a run's pods share theirs). */
  tls?: TlsFiles;
  /** Links per ring edge, each on its own thread (StripedProcessGroup); more than 1 implies `thread`. */
  stripes?: number;
}

/** Figures as nccl-tests defines them: algbw = bytes / time, busbw = algbw · 2(N−1)/N. */
export interface AllReduceBenchmarkResult {
  workers: number;
  bytes: number;
  wire: WireFormat;
  iters: number;
  chunkBytes: number;
  /** The shaped link the ranks ran behind, or null for loopback. */
  link: { gbit: number; latencyMs: number } | null;
  thread: boolean;
  tls: boolean;
  stripes: number;
  medianMs: number;
  minMs: number;
  algbwGBs: number;
  busbwGBs: number;
}

interface RankSettings {
  rank: number;
  workers: number;
  elements: number;
  wire: WireFormat;
  iters: number;
  warmup: number;
  chunkBytes: number;
  token: string;
  /** The address to listen on: the rank's own on a shaped network, loopback otherwise. */
  host: string;
  thread: boolean;
  stripes: number;
  tls?: TlsFiles;
}

// Each rank runs this module's sibling in the same form: the compiled .js when built, the .ts under tsx.
const RANK_ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './benchmark-rank.ts' : './benchmark-rank.js', import.meta.url)
);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs the all-reduce on `workers` local processes and reports the slowest rank's time per iteration. */
export async function benchmarkAllReduce(options: AllReduceBenchmarkOptions): Promise<AllReduceBenchmarkResult> {
  const elements = Math.round((options.mib * 1024 * 1024) / 4);
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const token = randomBytes(16).toString('hex');
  const stripes = options.stripes ?? 1;
  const threaded = options.thread === true || stripes > 1;
  // The network exists before any rank and is removed after all have exited (or on Ctrl-C, SIGTERM, a crash).
  const network =
    options.link === undefined ? undefined : await ShapedNetwork.create({ ranks: options.workers, ...options.link });
  const settings = Array.from({ length: options.workers }, (_, rank): RankSettings => ({
    rank,
    workers: options.workers,
    elements,
    wire: options.wire,
    iters: options.iters,
    warmup: options.warmup ?? 2,
    chunkBytes,
    token,
    host: network?.ranks[rank]!.address ?? '127.0.0.1',
    thread: threaded,
    stripes,
    ...(options.tls !== undefined ? { tls: options.tls } : {})
  }));
  const inNamespace: RankLauncher | undefined =
    network === undefined
      ? undefined
      : (rank, entry, args, { execArgv, stdio }) =>
          network.spawn(rank, process.execPath, [...execArgv, entry, ...args], { stdio });
  const ranks = forkRanks(RANK_ENTRY, settings, options.execArgv, inNamespace);
  try {
    const outcomes = await ranks.outcomes;
    const times = outcomes.map((outcome, rank) => {
      if ('error' in outcome) throw new Error(`benchmark rank ${rank} failed: ${outcome.error.message}`);
      return outcome.result as number[];
    });
    const perIteration = times[0]!.map((_, iteration) => Math.max(...times.map((rankTimes) => rankTimes[iteration]!)));
    const medianMs = median(perIteration);
    const bytes = elements * 4;
    const algbwGBs = bytes / (medianMs / 1000) / 1e9;
    return {
      workers: options.workers,
      bytes,
      wire: options.wire,
      iters: options.iters,
      chunkBytes,
      link: options.link === undefined ? null : { gbit: options.link.gbit, latencyMs: options.link.latencyMs ?? 0 },
      thread: threaded,
      tls: options.tls !== undefined,
      stripes,
      medianMs,
      minMs: Math.min(...perIteration),
      algbwGBs,
      busbwGBs: (algbwGBs * 2 * (options.workers - 1)) / options.workers
    };
  } finally {
    await ranks.stop();
    await network?.close();
  }
}

/** The body of one benchmark rank process (see benchmark-rank.ts). */
export async function runBenchmarkRank(settingsJson: string): Promise<void> {
  const settings = JSON.parse(settingsJson) as RankSettings;
  try {
    const listen = { host: settings.host, ...(settings.tls !== undefined ? { tls: settings.tls } : {}) };
    const endpoint = settings.thread ? await ThreadedEndpoint.listen(listen) : await CollectiveEndpoint.listen(listen);
    const peers = await exchangeAddresses(settings.rank, endpoint.address);
    const group = await connectGroup(endpoint, {
      groupId: 'bench',
      generation: 0,
      rank: settings.rank,
      worldSize: settings.workers,
      peers,
      token: settings.token,
      chunkBytes: settings.chunkBytes,
      stripes: settings.stripes
    });
    const data = new Float32Array(
      settings.thread ? new SharedArrayBuffer(settings.elements * 4) : new ArrayBuffer(settings.elements * 4)
    );
    const times: number[] = [];
    for (let iteration = 0; iteration < settings.warmup + settings.iters; iteration += 1) {
      data.fill(settings.rank + 1);
      await group.barrier();
      const start = performance.now();
      await group.allReduce(data, { op: 'sum', wire: settings.wire });
      if (iteration >= settings.warmup) times.push(performance.now() - start);
    }
    const expected = (settings.workers * (settings.workers + 1)) / 2;
    if (data[0] !== expected || data[data.length - 1] !== expected)
      throw new Error(`wrong sum: ${data[0]} instead of ${expected}`);
    await group.close();
    await endpoint.close();
    reportResult(settings.rank, times);
  } catch (error) {
    reportFailure(settings.rank, error);
  }
  process.disconnect();
}
