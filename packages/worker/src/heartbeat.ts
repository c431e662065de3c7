import { Worker } from 'node:worker_threads';
import type {
  FromHeartbeatThread,
  HeartbeatThreadData,
  HeartbeatTiming,
  ToHeartbeatThread
} from './heartbeat-protocol.js';

/**
 * The thread's module. Built (this file runs as dist/heartbeat.js), the compiled heartbeat-thread.js; from the
 * TypeScript sources, an entry that first registers tsx in the thread, which shares none of this thread's hooks.
 */
const HEARTBEAT_THREAD_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './heartbeat-thread-entry.mjs' : './heartbeat-thread.js',
  import.meta.url
);

export type HeartbeatVerdict = Exclude<FromHeartbeatThread, { kind: 'failed' } | { kind: 'ready' }>;
export type { HeartbeatTiming };

export interface HeartbeatOptions extends Omit<HeartbeatThreadData, 'mainThreadAlive'> {
  /** A heartbeat that failed (logged; the coordinator's watchdog decides what silence means). */
  onFailure?: (generation: number, error: string) => void;
}

/**
 * A rank's heartbeats, sent from a worker thread with its own gRPC client to the coordinator (same token): a
 * synchronous training step blocks the main thread's event loop for as long as it computes (a first GPU step,
 * a large CPU step), and heartbeats sent from there would let a healthy rank be declared hung. The main thread
 * says which generation to beat for and reads the coordinator's verdicts (abort, stop) when its loop turns.
 */
export class HeartbeatSender {
  /** Resolves once the thread has loaded (it imports the gRPC client): start it before registering. */
  readonly ready: Promise<void>;
  private readonly thread: Worker;
  private listener: ((verdict: HeartbeatVerdict) => void) | undefined;
  private generation: number | undefined;
  private closed = false;
  /** Date.now() while this thread's event loop turns: the heartbeat thread stops when it stays still too long. */
  private readonly alive = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly options: HeartbeatOptions) {
    Atomics.store(this.alive, 0, BigInt(Date.now()));
    this.ticker = setInterval(() => Atomics.store(this.alive, 0, BigInt(Date.now())), 250);
    this.ticker.unref();
    const data: HeartbeatThreadData = {
      coordinator: options.coordinator,
      token: options.token,
      workerId: options.workerId,
      ...(options.tlsDir !== undefined ? { tlsDir: options.tlsDir } : {}),
      mainThreadAlive: this.alive.buffer as SharedArrayBuffer
    };
    this.thread = new Worker(HEARTBEAT_THREAD_ENTRY, {
      workerData: data,
      name: `heartbeats ${options.workerId}`
    });
    this.thread.unref();
    this.ready = new Promise((resolve, reject) => {
      this.thread.once('error', reject);
      this.thread.on('message', (message: FromHeartbeatThread) => message.kind === 'ready' && resolve());
    });
    this.ready.catch(() => {});
    this.thread.on('message', (message: FromHeartbeatThread) => {
      if (message.kind === 'ready' || message.generation !== this.generation) return;
      if (message.kind === 'failed') this.options.onFailure?.(message.generation, message.error);
      else this.listener?.(message);
    });
    this.thread.on('error', (error) =>
      this.options.onFailure?.(this.generation ?? -1, `the heartbeat thread failed: ${error.message}`)
    );
  }

  /** Beats for `generation` until `idle()`, handing each verdict of the coordinator to `onVerdict`. */
  beat(generation: number, timing: HeartbeatTiming, onVerdict: (verdict: HeartbeatVerdict) => void): void {
    this.generation = generation;
    this.listener = onVerdict;
    Atomics.store(this.alive, 0, BigInt(Date.now()));
    this.send({
      kind: 'generation',
      generation,
      intervalMs: timing.intervalMs,
      coordinatorLostMs: timing.coordinatorLostMs,
      mainThreadStallMs: timing.mainThreadStallMs
    });
  }

  /**
   * The generation failed here: keep beating for it (the coordinator counts a member of an ended generation
   * alive while it beats) until `idle()` just before registering again, but stop handing on verdicts.
   */
  detach(): void {
    this.listener = undefined;
  }

  /** Between generations: no heartbeats (the coordinator waits for a registration, not for beats). */
  idle(): void {
    this.generation = undefined;
    this.listener = undefined;
    this.send({ kind: 'idle' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.idle();
    this.closed = true;
    clearInterval(this.ticker);
    const exited = new Promise<void>((resolve) => this.thread.once('exit', () => resolve()));
    this.thread.postMessage({ kind: 'close' } satisfies ToHeartbeatThread);
    const timer = setTimeout(() => void this.thread.terminate(), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private send(message: ToHeartbeatThread): void {
    if (!this.closed) this.thread.postMessage(message);
  }
}
