import { EventEmitter } from 'node:events';
import { confusionRows, perClassAccuracy, type Logger, type ValidationByClass } from '@ringtrain/protocol';
import type { RankStepTime__Output } from '@ringtrain/proto';
import { describeBackends, type RunPlan } from './run-plan.js';

/** One optimizer step on the curves. */
export interface StepPoint {
  globalStep: number;
  epoch: number;
  epochStep: number;
  epochSteps: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  learningRate: number;
}

/** Where a rank's step time goes, in seconds: its last step, and the mean over the run. */
export interface RankStepTimes {
  rank: number;
  backend: string;
  dataWaitSeconds: number;
  computeSeconds: number;
  allreduceSeconds: number;
  optimizerSeconds: number;
}

/** What the curves need of a step report (a StepRecord without the proto's bookkeeping fields). */
export interface StepInput extends StepPoint {
  ranks: RankStepTime__Output[];
}

export interface RunTimelineEvents {
  /** The backend of each rank, by rank, when first known and whenever it changes (after a restart). */
  backends: [string[]];
}

const TIME_FIELDS = ['dataWaitSeconds', 'computeSeconds', 'allreduceSeconds', 'optimizerSeconds'] as const;

/**
 * The run's history for the dashboard and metrics.json, beyond the epoch records: the per-step curves, each
 * rank's time split, the backends, and the last validation by class.
 *
 * The step series stays bounded for long runs: past `maxPoints` it keeps every other point and from then on
 * records every other step, so a 100,000-step run costs no more to poll than a 2,000-step one and the curve
 * keeps an even resolution. After a restart the steps redone from the checkpoint replace the abandoned ones,
 * so the curve shows the training that the final model actually had.
 */
export class RunTimeline extends EventEmitter<RunTimelineEvents> {
  private points: StepPoint[] = [];
  private stride = 1;
  /** Changes whenever points are removed (rollback, thinning): a client holding an older version refetches. */
  private seriesVersion = 0;
  private lastRankTimes: RankStepTimes[] = [];
  private readonly rankTotals = new Map<
    number,
    { backend: string; steps: number; sums: Record<(typeof TIME_FIELDS)[number], number> }
  >();
  private currentBackends: string[] | null = null;
  private runPlan: RunPlan | null = null;
  private lastValidation: ValidationByClass | null = null;
  /** When a dashboard last polled (ms since the epoch), so a local run can let it see the final state. */
  watchedAt = 0;

  constructor(
    private readonly log?: Logger,
    private readonly maxPoints = 2_000
  ) {
    super();
  }

  setPlan(plan: RunPlan): void {
    this.runPlan = plan;
  }

  /** The plan, with the backends the ranks reported once they are known. */
  plan(): RunPlan | null {
    if (this.runPlan === null) return null;
    return this.currentBackends === null
      ? this.runPlan
      : { ...this.runPlan, backend: { ...this.runPlan.backend, perRank: [...this.currentBackends] } };
  }

  recordStep(step: StepInput): void {
    const last = this.points.at(-1);
    if (last !== undefined && step.globalStep <= last.globalStep) {
      this.points = this.points.filter((point) => point.globalStep < step.globalStep);
      this.seriesVersion += 1;
    }
    if (step.globalStep % this.stride === 0 || this.points.length === 0) {
      const { globalStep, epoch, epochStep, epochSteps, loss, accuracy, imagesPerSecond, learningRate } = step;
      this.points.push({ globalStep, epoch, epochStep, epochSteps, loss, accuracy, imagesPerSecond, learningRate });
    }
    if (this.points.length > this.maxPoints) {
      this.stride *= 2;
      this.points = this.points.filter((point) => point.globalStep % this.stride === 0);
      this.seriesVersion += 1;
    }
    if (step.ranks.length > 0) this.recordRanks(step.ranks);
  }

  /** Keeps the validation by class of the latest epoch; `flat` is the row-major matrix of the epoch report. */
  recordValidation(epoch: number, flat: readonly number[]): void {
    if (flat.length === 0) return;
    const classCount = Math.round(Math.sqrt(flat.length));
    const named = this.runPlan?.dataset.classes;
    const classes =
      named !== undefined && named.length === classCount
        ? [...named]
        : Array.from({ length: classCount }, (_, index) => `class ${index}`);
    const confusion = confusionRows(flat, classCount);
    this.lastValidation = { epoch, classes, confusion, perClass: perClassAccuracy(confusion, classes) };
  }

  validation(): ValidationByClass | null {
    return this.lastValidation;
  }

  /** Every kept point of the step series. */
  steps(): StepPoint[] {
    return [...this.points];
  }

  /**
   * The points a poller lacks: those after `afterStep` when it holds the current version of the series, else the
   * whole series (`reset`), which it then replaces its copy with.
   */
  stepsSince(version: number, afterStep: number): { version: number; reset: boolean; points: StepPoint[] } {
    if (version !== this.seriesVersion) return { version: this.seriesVersion, reset: true, points: this.steps() };
    return {
      version: this.seriesVersion,
      reset: false,
      points: this.points.filter((point) => point.globalStep > afterStep)
    };
  }

  /** Each rank's time split: its last step's, and its mean per step over the run. */
  rankTimes(): { last: RankStepTimes[]; mean: RankStepTimes[] } {
    const mean = [...this.rankTotals.entries()]
      .sort(([a], [b]) => a - b)
      .map(([rank, total]) => ({
        rank,
        backend: total.backend,
        dataWaitSeconds: total.sums.dataWaitSeconds / total.steps,
        computeSeconds: total.sums.computeSeconds / total.steps,
        allreduceSeconds: total.sums.allreduceSeconds / total.steps,
        optimizerSeconds: total.sums.optimizerSeconds / total.steps
      }));
    return { last: this.lastRankTimes.map((each) => ({ ...each })), mean };
  }

  private recordRanks(ranks: RankStepTime__Output[]): void {
    this.lastRankTimes = [...ranks]
      .sort((a, b) => a.rank - b.rank)
      .map(({ rank, backend, dataWaitSeconds, computeSeconds, allreduceSeconds, optimizerSeconds }) => ({
        rank,
        backend,
        dataWaitSeconds,
        computeSeconds,
        allreduceSeconds,
        optimizerSeconds
      }));
    for (const times of this.lastRankTimes) {
      const total = this.rankTotals.get(times.rank) ?? {
        backend: times.backend,
        steps: 0,
        sums: { dataWaitSeconds: 0, computeSeconds: 0, allreduceSeconds: 0, optimizerSeconds: 0 }
      };
      total.backend = times.backend;
      total.steps += 1;
      for (const field of TIME_FIELDS) total.sums[field] += times[field];
      this.rankTotals.set(times.rank, total);
    }
    const backends = this.lastRankTimes.map((each) => each.backend);
    if (
      this.currentBackends === null ||
      backends.length !== this.currentBackends.length ||
      backends.some((name, rank) => name !== this.currentBackends![rank])
    ) {
      this.currentBackends = backends;
      const plan = this.plan();
      this.log?.info({ backends }, `backend: ${plan === null ? backends.join(', ') : describeBackends(plan)}`);
      this.emit('backends', [...backends]);
    }
  }
}
