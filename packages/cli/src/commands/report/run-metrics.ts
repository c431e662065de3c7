import { z } from 'zod';

/**
 * metrics.json as the report reads it: the coordinator writes it at the end of a run (RunMetricsFile in
 * packages/coordinator). This is the reader's edge, so it is validated here, and it checks only what the
 * report shows. Everything added after the first release (`plan`, per-epoch `confusion`) is optional, so that
 * older runs still render; unknown fields pass through untouched.
 */

/** JSON has no NaN: a diverged loss is written as null, and the report shows a gap rather than refusing. */
const measured = z.number().nullable();

const EpochSchema = z.looseObject({
  epoch: z.number().int().min(0),
  generation: z.number().int().min(0).optional(),
  trainLoss: measured,
  trainAccuracy: measured,
  valLoss: measured,
  valAccuracy: measured,
  valImages: z.number().int().min(0),
  samplesTrained: z.number().min(0),
  samplesDropped: z.number().min(0).optional(),
  seconds: z.number().min(0),
  imagesPerSecond: measured,
  /** Validation confusion matrix summed over ranks, row-major numClasses²: row = true class, column = predicted. */
  confusion: z.array(z.number().min(0)).optional(),
});

const OptimizerSchema = z.looseObject({
  kind: z.string(),
  lr: z.number().optional(),
  momentum: z.number().optional(),
  weightDecay: z.number().optional(),
});

/** The model's TrainingConfigInput as run.json holds it; the model package applies the same defaults. */
const TrainingSchema = z.looseObject({
  numClasses: z.number().int().min(1).optional(),
  imageSize: z.number().int().min(1).optional(),
  optimizer: OptimizerSchema.optional(),
  schedule: z.looseObject({ kind: z.string() }).optional(),
  warmupSteps: z.number().int().min(0).optional(),
  microBatchSize: z.number().int().min(1).optional(),
  freezeBackbone: z.boolean().optional(),
  unfreezeAfterEpochs: z.number().int().min(0).optional(),
  labelSmoothing: z.number().optional(),
  clipGradNorm: z.number().optional(),
});

const ConfigSchema = z.looseObject({
  runId: z.string().optional(),
  dataset: z.string().optional(),
  out: z.string().optional(),
  workers: z.number().int().min(1),
  epochs: z.number().int().min(1),
  batchSize: z.number().int().min(1),
  seed: z.number().int().optional(),
  partitions: z.number().int().optional(),
  maxSteps: z.number().int().optional(),
  checkpointEverySteps: z.number().int().optional(),
  keepCheckpoints: z.number().int().optional(),
  pretrained: z.string().optional(),
  training: TrainingSchema,
  augment: z.boolean().optional(),
  backend: z.string().optional(),
});

const RestartSchema = z.looseObject({
  generation: z.number().int().min(0),
  reason: z.string(),
  at: z.string(),
});

const CheckpointSchema = z.looseObject({
  key: z.string(),
  epoch: z.number().int().min(0),
  globalStep: z.number().int().min(0),
  bytes: z.number().min(0),
  at: z.string(),
});

/** The run plan (packages/coordinator run-plan.ts), as far as the report shows it. */
const PlanSchema = z.looseObject({
  dataset: z.looseObject({
    uri: z.string(),
    classes: z.array(z.string()),
    images: z.number().int().min(0),
    trainImages: z.number().int().min(0),
    valImages: z.number().int().min(0),
  }),
  workers: z.number().int().min(1),
  batchPerWorker: z.number().int().min(1),
  globalBatch: z.number().int().min(1),
  iterationsPerEpoch: z.number().int().min(0),
  lastIterationImages: z.number().int().min(0).optional(),
  droppedPerEpoch: z.number().int().min(0).optional(),
  epochs: z.number().int().min(1),
  totalIterations: z.number().int().min(0),
  maxSteps: z.number().int().nullable().optional(),
  optimizer: z.looseObject({
    kind: z.string(),
    learningRate: z.number(),
    momentum: z.number().nullable().optional(),
    weightDecay: z.number().optional(),
    schedule: z.string().optional(),
    warmupIterations: z.number().int().min(0).optional(),
    scaledWithGlobalBatch: z.boolean().optional(),
  }),
  pretrained: z.string().nullable(),
  seed: z.number().int().optional(),
  frozen: z.string().optional(),
  imageSize: z.number().int().min(1),
  augment: z.boolean().optional(),
  backend: z.looseObject({ requested: z.string(), perRank: z.array(z.string()).nullable() }).optional(),
  output: z.looseObject({ dir: z.string(), checkpoints: z.string().optional(), model: z.string().optional() }).optional(),
});

export const RunMetricsSchema = z.looseObject({
  runId: z.string().min(1),
  state: z.enum(['succeeded', 'failed', 'stopped']),
  reason: z.string(),
  config: ConfigSchema,
  generations: z.number().int().min(0),
  restarts: z.array(RestartSchema),
  epochs: z.array(EpochSchema),
  checkpoints: z.array(CheckpointSchema).default([]),
  final: z.looseObject({
    valAccuracy: measured,
    valLoss: measured,
    trainLoss: measured,
    imagesPerSecond: measured,
    globalStep: z.number().int().min(0),
  }),
  weightsSha256: z.array(z.string()).default([]),
  weightsIdentical: z.boolean(),
  summary: z.record(z.string(), z.unknown()).default({}),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationSeconds: z.number().min(0),
  plan: PlanSchema.optional(),
});

export type RunMetrics = z.output<typeof RunMetricsSchema>;
export type EpochMetrics = RunMetrics['epochs'][number];
export type RunPlanMetrics = NonNullable<RunMetrics['plan']>;

/** `ringtrain eval --out eval.json`: the report takes its confusion matrix (packages/worker EvaluationReport). */
export const EvaluationSchema = z.looseObject({
  dataset: z.string().optional(),
  split: z.string(),
  count: z.number().int().min(0),
  accuracy: z.number(),
  loss: z.number().nullable().optional(),
  classes: z.array(z.string()).min(1),
  confusion: z.array(z.array(z.number().min(0))),
});

export type Evaluation = z.output<typeof EvaluationSchema>;

/** A metrics.json (or eval.json) that is missing, not JSON, or not what a run writes: the message says the fix. */
export class MetricsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsFileError';
  }
}

function describeIssues(error: z.ZodError, limit = 8): string {
  const lines = error.issues.slice(0, limit).map((issue) => `  ${issue.path.map(String).join('.') || '(the whole file)'}: ${issue.message}`);
  if (error.issues.length > limit) lines.push(`  … and ${error.issues.length - limit} more`);
  return lines.join('\n');
}

function parseJson(text: string, origin: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MetricsFileError(`${origin} is not JSON (${error instanceof Error ? error.message : String(error)}): ${what}`);
  }
}

/** Parses the text of a metrics.json; `origin` names the file in messages. */
export function parseRunMetrics(text: string, origin: string): RunMetrics {
  const json = parseJson(text, origin, 'it was cut short or is not a metrics.json; the coordinator writes it whole when a run ends, so rerun or resume the run (ringtrain train --resume --out <dir>)');
  const result = RunMetricsSchema.safeParse(json);
  if (result.success) {
    checkConsistency(result.data, origin);
    return result.data;
  }
  throw new MetricsFileError(
    `${origin} is not a run's metrics.json as ringtrain writes it:\n${describeIssues(result.error)}\n` +
      'give the --out directory of a finished `ringtrain train` (or the output.uri of a TrainingRun), or its metrics.json',
  );
}

/** Facts the schema cannot state: a confusion matrix must be square and name each class once. */
function checkConsistency(metrics: RunMetrics, origin: string): void {
  for (const epoch of metrics.epochs) {
    const cells = epoch.confusion?.length ?? 0;
    if (cells > 0 && !Number.isInteger(Math.sqrt(cells))) {
      throw new MetricsFileError(`${origin}: epochs[${epoch.epoch}].confusion has ${cells} cells, not a square number (classes × classes): the file is damaged; rerun the run`);
    }
  }
}

export function parseEvaluation(text: string, origin: string): Evaluation {
  const json = parseJson(text, origin, 'give the file that `ringtrain eval <run> --out eval.json` wrote');
  const result = EvaluationSchema.safeParse(json);
  if (!result.success) {
    throw new MetricsFileError(`${origin} is not an evaluation as \`ringtrain eval --out\` writes it:\n${describeIssues(result.error)}\ngive the file that \`ringtrain eval <run> --out eval.json\` wrote`);
  }
  const { classes, confusion } = result.data;
  if (confusion.length !== classes.length || confusion.some((row) => row.length !== classes.length)) {
    throw new MetricsFileError(`${origin}: its confusion matrix is not ${classes.length} × ${classes.length} (one row and column per class): rerun ringtrain eval`);
  }
  return result.data;
}
