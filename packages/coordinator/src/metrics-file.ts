import type { ObjectStore } from '@ringtrain/dataset';
import type { RunConfig, ValidationByClass } from '@ringtrain/protocol';
import { membersByRank, type Generation } from './generation.js';
import type { CheckpointRecord, EpochRecord, RestartRecord, StepRecord } from './records.js';
import type { RunPlan } from './run-plan.js';
import type { RankStepTimes, RunTimeline, StepPoint } from './run-timeline.js';

/** Where the run's summary goes in its output. */
export const METRICS_FILE_KEY = 'metrics.json';

export interface RunResult {
  state: 'succeeded' | 'failed' | 'stopped';
  reason: string;
  /** The content of metrics.json. */
  metrics: RunMetricsFile;
}

export interface RunMetricsFile {
  runId: string;
  state: RunResult['state'];
  reason: string;
  config: RunConfig;
  generations: number;
  restarts: RestartRecord[];
  epochs: EpochRecord[];
  checkpoints: CheckpointRecord[];
  final: {
    valAccuracy: number | null;
    valLoss: number | null;
    trainLoss: number | null;
    imagesPerSecond: number | null;
    globalStep: number;
  };
  /** Per rank, sha256 of its final weights; equal on every rank when averaging is right. */
  weightsSha256: string[];
  weightsIdentical: boolean;
  /** What rank 0 reported at the end (model locations). */
  summary: Record<string, unknown>;
  /** The run plan as the run started (backends per rank filled in once known); null if it could not be made. */
  plan: RunPlan | null;
  /** Training loss, accuracy, images/s and learning rate per step (evenly thinned to at most ~2,000 points). */
  steps: StepPoint[];
  /** Per rank, the mean seconds of a step's phases over the run. */
  rankStepSeconds: RankStepTimes[];
  /** The last epoch's validation by class: confusion matrix (rows = true class) and per-class accuracy. */
  validation: ValidationByClass | null;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
}

/** The books metrics.json is assembled from. */
export interface RunBooks {
  config: RunConfig;
  /** The latest generation, whose members' final reports give the weights' hashes and rank 0's summary. */
  current: Generation | undefined;
  /** Every restart of the run, earlier sessions' first. */
  restarts: RestartRecord[];
  /** By epoch, in order. */
  history: EpochRecord[];
  checkpoints: CheckpointRecord[];
  lastStep: StepRecord | undefined;
  timeline: RunTimeline;
  startedAt: Date;
}

/** The content of metrics.json for a run that ended `state` because of `reason`, at `finishedAt`. */
export function assembleMetricsFile(
  books: RunBooks,
  state: RunResult['state'],
  reason: string,
  finishedAt = new Date()
): RunMetricsFile {
  const members = membersByRank(books.current);
  const hashes = members.map((member) => member.finished?.weightsSha256 ?? '');
  const last = books.history.at(-1);
  return {
    runId: books.config.runId,
    state,
    reason,
    config: books.config,
    generations: books.current === undefined ? 0 : books.current.number + 1,
    restarts: books.restarts,
    epochs: books.history,
    checkpoints: books.checkpoints,
    final: {
      // A dataset ingested with --val-fraction 0 has no validation split: no accuracy, rather than 0%.
      valAccuracy: last && last.valImages > 0 ? last.valAccuracy : null,
      valLoss: last && last.valImages > 0 ? last.valLoss : null,
      trainLoss: last?.trainLoss ?? null,
      imagesPerSecond: last?.imagesPerSecond ?? null,
      globalStep: books.lastStep?.globalStep ?? 0
    },
    weightsSha256: hashes,
    weightsIdentical: hashes.length > 0 && hashes.every((hash) => hash !== '' && hash === hashes[0]),
    summary: members[0]?.finished?.summary ?? {},
    plan: books.timeline.plan(),
    steps: books.timeline.steps(),
    rankStepSeconds: books.timeline.rankTimes().mean,
    validation: books.timeline.validation(),
    startedAt: books.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - books.startedAt.getTime()) / 1000
  };
}

export async function writeMetricsFile(store: ObjectStore, metrics: RunMetricsFile): Promise<void> {
  await store.put(METRICS_FILE_KEY, Buffer.from(`${JSON.stringify(metrics, null, 1)}\n`));
}
