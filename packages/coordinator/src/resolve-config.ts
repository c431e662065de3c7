import { epochWindows, loadManifest } from '@ringtrain/dataset';
import type { RunConfig } from '@ringtrain/protocol';

/** What resolving a run configuration needs from the dataset's manifest. */
export interface DatasetShape {
  classes: readonly string[];
  trainImages: number;
}

/** The run configuration cannot be made concrete for this dataset. */
export class RunConfigResolutionError extends Error {
  override readonly name = 'RunConfigResolutionError';
}

/** Iterations of one epoch exactly as the epoch planner cuts it (`remainder: 'drop'`; dataset's epochWindows). */
export function iterationsOfEpoch(
  trainImages: number,
  workers: number,
  batchPerWorker: number,
  dropLastBatchBelow: number
): { iterations: number; lastIterationImages: number; dropped: number } {
  const window = workers * batchPerWorker;
  const { fullWindows, tailLength, dropped } = epochWindows({
    samples: trainImages,
    worldSize: workers,
    batchSize: batchPerWorker,
    samplesConsumed: 0,
    remainder: 'drop',
    dropLastBatchBelow
  });
  return {
    iterations: fullWindows + (tailLength > 0 ? 1 : 0),
    lastIterationImages: tailLength > 0 ? tailLength : window,
    dropped
  };
}

/** Optimizer steps of one epoch, counted as the epoch planner cuts it (a short last iteration included). */
export function stepsPerEpoch(
  config: Pick<RunConfig, 'workers' | 'batchSize' | 'dropLastBatchBelow'>,
  trainImages: number
): number {
  return Math.max(
    1,
    iterationsOfEpoch(trainImages, config.workers, config.batchSize, config.dropLastBatchBelow).iterations
  );
}

/**
 * Fills in what only the dataset decides: the class count, and an epoch-based learning-rate schedule in
 * optimizer steps (cosine over the whole run; step ×0.1 at each third of it; warmup over whole epochs).
 * A configuration that needs neither is returned as it is.
 */
export function resolveRunConfig(config: RunConfig, dataset: DatasetShape): RunConfig {
  const training = { ...config.training };
  const given = training.numClasses;
  if (given === undefined) training.numClasses = dataset.classes.length;
  else if (given !== dataset.classes.length) {
    throw new RunConfigResolutionError(
      `training.numClasses is ${String(given)} but ${config.dataset} has ${dataset.classes.length} classes (${dataset.classes.slice(0, 5).join(', ')}${dataset.classes.length > 5 ? ', …' : ''}): leave numClasses out to take the dataset's`
    );
  }
  const { lrSchedule, ...rest } = config;
  if (lrSchedule !== undefined) {
    const steps = stepsPerEpoch(config, dataset.trainImages);
    const totalSteps = steps * config.epochs;
    if (lrSchedule.kind === 'cosine') training.schedule = { kind: 'cosine', totalSteps };
    else if (lrSchedule.kind === 'step')
      training.schedule = { kind: 'step', stepSize: Math.max(1, Math.ceil(totalSteps / 3)), gamma: 0.1 };
    else training.schedule = { kind: 'constant' };
    training.warmupSteps = lrSchedule.warmupEpochs * steps;
  }
  return { ...rest, training };
}

/** Reads the dataset's manifest when the configuration leaves something to it, and resolves the configuration. */
export async function resolveRunConfigFromManifest(config: RunConfig): Promise<RunConfig> {
  if (config.training.numClasses !== undefined && config.lrSchedule === undefined) return config;
  let manifest;
  try {
    ({ manifest } = await loadManifest(config.dataset));
  } catch (error) {
    throw new RunConfigResolutionError(
      `the run leaves ${config.lrSchedule === undefined ? 'the class count' : 'the learning-rate schedule'} to the dataset, but its manifest could not be read: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  return resolveRunConfig(config, { classes: manifest.classes, trainImages: manifest.splits.train.count });
}
