import type { Evaluation, RunMetrics } from './run-metrics.js';

/**
 * What a report says about a run, derived from metrics.json (and optionally `ringtrain eval`'s output) by pure
 * functions: the HTML and the PNG only lay these figures out.
 */

export interface ConfusionView {
  /** Where the matrix comes from, in words. */
  source: string;
  classes: string[];
  /** counts[truth][prediction]. */
  counts: number[][];
  perClass: { name: string; count: number; correct: number; accuracy: number | null }[];
}

export interface TimeSplit {
  totalSeconds: number;
  /** Time inside the epochs' training steps (data, forward/backward, all-reduce, optimizer). */
  trainingSeconds: number;
  /** Everything else: start-up and rendezvous, validation, checkpoints, work redone after restarts. */
  otherSeconds: number;
  /** False when the epochs include ones trained before a resume, so the two do not add up to this session. */
  consistent: boolean;
}

/** Recall per class: the diagonal over each row's total; null for a class without samples. */
export function perClassAccuracy(
  classes: readonly string[],
  counts: readonly (readonly number[])[]
): ConfusionView['perClass'] {
  return classes.map((name, row) => {
    const count = (counts[row] ?? []).reduce((sum, value) => sum + value, 0);
    const correct = counts[row]?.[row] ?? 0;
    return { name, count, correct, accuracy: count === 0 ? null : correct / count };
  });
}

/**
 * The confusion matrix to show: `ringtrain eval`'s when given (a deliberate measurement), else the last
 * validation's from metrics.json, else none (runs from before it was recorded).
 */
export function resolveConfusion(metrics: RunMetrics, evaluation?: Evaluation): ConfusionView | undefined {
  if (evaluation !== undefined) {
    const counts = evaluation.confusion.map((row) => [...row]);
    return {
      source: `ringtrain eval on the ${evaluation.split} split${evaluation.dataset !== undefined ? ` of ${evaluation.dataset}` : ''} (${evaluation.count} images)`,
      classes: [...evaluation.classes],
      counts,
      perClass: perClassAccuracy(evaluation.classes, counts)
    };
  }
  const validation = metrics.validation;
  if (validation === undefined) return undefined;
  const counts = validation.confusion.map((row) => [...row]);
  const images = counts.flat().reduce((sum, value) => sum + value, 0);
  return {
    source: `validation at the end of epoch ${validation.epoch + 1} (${images} images)`,
    classes: [...validation.classes],
    counts,
    perClass: perClassAccuracy(validation.classes, counts)
  };
}

export function timeSplit(metrics: RunMetrics): TimeSplit {
  const trainingSeconds = metrics.epochs.reduce((sum, epoch) => sum + epoch.seconds, 0);
  const consistent = trainingSeconds <= metrics.durationSeconds;
  return {
    totalSeconds: metrics.durationSeconds,
    trainingSeconds,
    otherSeconds: Math.max(0, metrics.durationSeconds - trainingSeconds),
    consistent
  };
}

/** The learning rate as the optimizer got it, with the model package's defaults (training-config.ts). */
export function describeOptimizer(metrics: RunMetrics): {
  name: string;
  learningRate: number | undefined;
  details: string[];
} {
  const plan = metrics.plan?.optimizer;
  const optimizer = metrics.config.training.optimizer;
  const kind = plan?.kind ?? optimizer?.kind ?? 'adam';
  const defaults: Record<string, number> = { adam: 1e-3, sgd: 1e-2 };
  const learningRate = plan?.learningRate ?? optimizer?.lr ?? defaults[kind];
  const momentum = plan?.momentum ?? optimizer?.momentum;
  const name = kind === 'adam' ? 'Adam' : kind === 'sgd' ? `SGD${momentum ? ` (momentum ${momentum})` : ''}` : kind;
  const details: string[] = [];
  const schedule = plan?.schedule ?? metrics.config.training.schedule?.kind ?? 'constant';
  details.push(`schedule: ${schedule}`);
  if (plan?.scaledWithGlobalBatch === false) details.push('not scaled with the global batch');
  const warmup = plan?.warmupIterations ?? metrics.config.training.warmupSteps ?? 0;
  if (warmup > 0) details.push(`linear warmup over ${warmup} iterations`);
  const decay = plan?.weightDecay ?? optimizer?.weightDecay ?? 0;
  if (decay > 0) details.push(`weight decay ${decay}`);
  return { name, learningRate, details };
}

/** Iterations of one epoch: from the plan when the run recorded it, else from the first full epoch's images. */
export function iterationsPerEpoch(metrics: RunMetrics): number | undefined {
  if (metrics.plan !== undefined) return metrics.plan.iterationsPerEpoch;
  const globalBatch = metrics.config.workers * metrics.config.batchSize;
  const first = metrics.epochs[0];
  return first === undefined ? undefined : Math.ceil(first.samplesTrained / globalBatch);
}
