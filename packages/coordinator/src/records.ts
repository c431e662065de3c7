import type { EpochReport__Output, StepReport__Output } from '@ringtrain/proto';
import type { RunPlan } from './run-plan.js';

/**
 * What the coordinator's books are made of: the records it keeps of a run as workers report it, shared by the
 * parts that fill them (coordinator.ts), persist them (run-record.ts), count them (metrics.ts) and assemble
 * them (metrics-file.ts, `/status`).
 */

export type RunState = 'rendezvous' | 'running' | 'succeeded' | 'failed' | 'stopped';

/** The confusion matrix is kept apart (RunTimeline): per epoch it would make the history grow with classes². */
export type EpochRecord = Omit<EpochReport__Output, 'workerId' | 'samplesTrained' | 'confusion'> & {
  samplesTrained: number;
};

export type StepRecord = Omit<StepReport__Output, 'workerId' | 'globalStep'> & { globalStep: number };

export interface RestartRecord {
  /** The generation that ended. */
  generation: number;
  reason: string;
  at: string;
}

/**
 * A worker the heartbeat watchdog declared hung: silent past the deadline while its generation ran. It stays
 * listed until the same worker registers again (alive after all, or its replacement), so whoever runs the
 * processes (the operator, from /status) can replace the one that hangs: nothing else ever would.
 */
export interface HungWorker {
  workerId: string;
  /** Its rank in the generation it hung in. */
  rank: number;
  /** Its last sign of life (ISO time). */
  since: string;
  reason: string;
}

export interface CheckpointRecord {
  key: string;
  epoch: number;
  globalStep: number;
  samplesConsumed: number;
  bytes: number;
  at: string;
}

/** What `/status` serves and `metrics.json` is built from. */
export interface RunStatus {
  runId: string;
  state: RunState;
  reason: string;
  generation: number;
  /** Ranks of the ring; `registered` counts ranks too. */
  worldSize: number;
  /** Ranks per pod (spec.workers.ranksPerPod; 1 outside a cluster): the ring spans worldSize / ranksPerPod pods. */
  ranksPerPod: number;
  registered: number;
  restarts: RestartRecord[];
  maxRestarts: number;
  epochs: number;
  lastStep: StepRecord | undefined;
  history: EpochRecord[];
  checkpoints: CheckpointRecord[];
  /** Workers declared hung and not heard from since; empty when there are none. */
  hungWorkers: HungWorker[];
  startedAt: string;
  elapsedSeconds: number;
  /** Null when the dataset's manifest could not be read to describe the run. */
  plan: RunPlan | null;
}
