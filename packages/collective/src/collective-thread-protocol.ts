import type { EndpointOptions } from './endpoint.js';
import type { SerializedCollectiveError } from './errors.js';
import type { AllReduceOptions, JsonValue, ProcessGroupConfig } from './process-group.js';

/** Messages between a rank's training thread and its collective thread (threaded-process-group.ts ↔ collective-thread.ts). */

export interface CollectiveThreadData {
  endpoint: EndpointOptions;
}

/** A Float32Array over shared memory, as it travels: the memory itself is shared, not copied. */
export interface SharedSpan {
  memory: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

/**
 * Slots of the Float64Array over a group's `stats` memory, written by the collective thread whenever an
 * operation settles: the main thread reads them without a round trip.
 */
export const STATS_SLOTS = {
  bytesSent: 0,
  bytesReceived: 1,
  unalignedFrames: 2,
  sendBuffersAllocated: 3,
  /** performance.timeOrigin + performance.now() in the collective thread when the last operation settled. */
  lastSettledAtMs: 4
} as const;
export const STATS_BYTES = 5 * Float64Array.BYTES_PER_ELEMENT;

/** Training thread → collective thread. `call` numbers the request; its answer carries it back. */
export type ToCollectiveThread =
  | { kind: 'connect'; call: number; group: number; config: ProcessGroupConfig; stats: SharedArrayBuffer }
  | { kind: 'allReduce'; call: number; group: number; data: SharedSpan; options: AllReduceOptions }
  | { kind: 'broadcast'; call: number; group: number; data: SharedSpan; root: number }
  | { kind: 'allGather'; call: number; group: number; value: JsonValue }
  | { kind: 'close'; call: number; group: number }
  | { kind: 'abort'; group: number; reason: string }
  /** Closes the endpoint; the thread exits once its last group is gone. */
  | { kind: 'shutdown'; call: number };

/** Collective thread → training thread. */
export type FromCollectiveThread =
  | { kind: 'listening'; address: string }
  | { kind: 'listen-failed'; error: SerializedCollectiveError }
  /** The request `call` finished: `values` for an allGather; `error` if it failed. */
  | { kind: 'settled'; call: number; values?: JsonValue[]; error?: SerializedCollectiveError }
  /** The group failed (its signal aborted) with this error, whether or not an operation was under way. */
  | { kind: 'failed'; group: number; error: SerializedCollectiveError };
