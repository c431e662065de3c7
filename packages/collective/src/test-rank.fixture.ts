// One rank of the multi-process tests (process-group.multiprocess.test.ts): all-reduces deterministic data,
// reports progress after every operation and, at the end, a digest of its result.
import { createHash } from 'node:crypto';
import {
  CollectiveEndpoint,
  ProcessGroup,
  ThreadedEndpoint,
  ThreadedProcessGroup,
  type CollectiveGroup,
  type ProcessGroupConfig,
  type WireFormat
} from './index.js';
import { exchangeAddresses, reportFailure, reportResult, type RankReport } from './rank-processes.js';

export interface TestRankSettings {
  rank: number;
  worldSize: number;
  elements: number;
  iterations: number;
  timeoutMs: number;
  wire: WireFormat;
  /** Rank 0 blocks its event loop this long after the first operation, like a synchronous training step. */
  blockAfterFirstMs?: number;
  /**
   * Rank 0 blocks its event loop this long right after starting the last operation, before awaiting it, as a
   * training step that computes while its gradients are reduced; it reports how long it then still waited.
   */
  blockWhileReducingMs?: number;
  /** Run the rank's collective on a thread of its own (ThreadedEndpoint, ThreadedProcessGroup). */
  thread?: boolean;
}

/** What rank 0 saw of an operation it blocked across (blockWhileReducingMs). */
export interface BlockedOperation {
  /** From the end of the block until the operation's promise settled. */
  afterBlockMs: number;
  /** How long before the block ended the collective thread settled the operation (threaded ranks only). */
  settledBeforeBlockEndedMs?: number;
}

/** Rank r's input: cheap to recompute anywhere, different on every rank and every element. */
export function testInput(rank: number, index: number): number {
  return Math.fround(((index * 7919 + rank * 104_729) % 2003) / 1001 - 1);
}

const settings = JSON.parse(process.argv[2] ?? '{}') as TestRankSettings;
try {
  const endpoint = settings.thread === true ? await ThreadedEndpoint.listen() : await CollectiveEndpoint.listen();
  const peers = await exchangeAddresses(settings.rank, endpoint.address);
  const config: ProcessGroupConfig = {
    groupId: 'multiprocess',
    generation: 0,
    rank: settings.rank,
    worldSize: settings.worldSize,
    peers,
    token: 'multiprocess-token',
    timeoutMs: settings.timeoutMs
  };
  const group: CollectiveGroup =
    endpoint instanceof ThreadedEndpoint
      ? await ThreadedProcessGroup.connect(endpoint, config)
      : await ProcessGroup.connect(endpoint, config);
  const data = new Float32Array(settings.elements);
  const operationMs: number[] = [];
  let blocked: BlockedOperation | undefined;
  for (let iteration = 0; iteration < settings.iterations; iteration += 1) {
    for (let i = 0; i < data.length; i += 1) data[i] = testInput(settings.rank, i);
    const started = performance.now();
    const operation = group.allReduce(data, { op: 'sum', wire: settings.wire });
    if (iteration === settings.iterations - 1 && settings.rank === 0 && settings.blockWhileReducingMs !== undefined) {
      const until = performance.now() + settings.blockWhileReducingMs;
      while (performance.now() < until) {
        // Busy, as a synchronous TensorFlow kernel: this thread's event loop does not turn.
      }
      const blockEnded = performance.now();
      await operation;
      blocked = {
        afterBlockMs: performance.now() - blockEnded,
        ...(group instanceof ThreadedProcessGroup
          ? { settledBeforeBlockEndedMs: performance.timeOrigin + blockEnded - group.lastSettledAtMs }
          : {})
      };
    }
    await operation;
    operationMs.push(performance.now() - started);
    process.send!({ type: 'progress', rank: settings.rank, iteration } satisfies RankReport);
    if (iteration === 0 && settings.rank === 0 && settings.blockAfterFirstMs !== undefined) {
      const until = Date.now() + settings.blockAfterFirstMs;
      while (Date.now() < until) {
        // Busy: no I/O runs in this process meanwhile.
      }
    }
  }
  const digest = createHash('sha256').update(new Uint8Array(data.buffer)).digest('hex');
  const samples = [0, 1, data.length >> 1, data.length - 1]
    .filter((index) => index >= 0 && index < data.length)
    .map((index) => [index, data[index]!]);
  await group.close();
  await endpoint.close();
  reportResult(settings.rank, { digest, samples, operationMs, ...(blocked !== undefined ? { blocked } : {}) });
} catch (error) {
  reportFailure(settings.rank, error);
}
process.disconnect();
