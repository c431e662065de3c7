/** Messages between a rank's main thread and its heartbeat thread (heartbeat.ts ↔ heartbeat-thread.ts). */

/** What the heartbeat thread needs to reach the coordinator on its own: its own gRPC client, the same token. */
export interface HeartbeatThreadData {
  coordinator: string;
  token: string;
  workerId: string;
  /** The run's identity directory (RINGTRAIN_TLS_DIR): mutual TLS to the coordinator, as the main thread's client. */
  tlsDir?: string;
  /** One BigInt64 the main thread keeps at Date.now() while its event loop turns. */
  mainThreadAlive: SharedArrayBuffer;
}

/** How a generation beats: the run configuration's heartbeatIntervalMs and coordinatorLostMs. */
export interface HeartbeatTiming {
  intervalMs: number;
  /** Unreachable this long (nothing listens at its address), the coordinator is lost: the generation's books died with it. */
  coordinatorLostMs: number;
  /**
   * The main thread's loop still for this long, its step hangs: heartbeats stop, so that the coordinator
   * declares the rank hung. The collective timeout: its peers would have given up on it by then anyway.
   */
  mainThreadStallMs: number;
}

/** Main thread → heartbeat thread. */
export type ToHeartbeatThread =
  /** Beat for this generation from now on. */
  | ({ kind: 'generation'; generation: number } & HeartbeatTiming)
  /** No generation: stop beating until the next one. */
  | { kind: 'idle' }
  | { kind: 'close' };

/** Heartbeat thread → main thread: the coordinator's verdicts, read whenever the main thread's loop turns. */
export type FromHeartbeatThread =
  /** Loaded and listening: beats go out from the first message on. */
  | { kind: 'ready'; generation?: undefined }
  | { kind: 'answer'; generation: number; abort: boolean; reason: string; stop: boolean }
  | { kind: 'failed'; generation: number; error: string }
  | { kind: 'coordinator-lost'; generation: number; reason: string };
