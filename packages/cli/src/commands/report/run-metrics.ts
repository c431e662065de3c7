import { z } from 'zod';

/**
 * metrics.json as the report reads it: the coordinator writes it at the end of a run (RunMetricsFile in
 * packages/coordinator). This is the reader's edge, so it is validated here, and it checks only what the
 * report shows. Everything added after the first release (`plan`, `steps`, `rankStepSeconds`,
 * `validation`) is optional, and may be null where the coordinator could not make it, so that
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
  imagesPerSecond: measured
});

/** One optimizer step as the coordinator keeps it (StepPoint in packages/coordinator run-timeline.ts). */
const StepSchema = z.looseObject({
  globalStep: z.number().int().min(0),
  epoch: z.number().int().min(0),
  loss: measured,
  accuracy: measured,
  imagesPerSecond: measured.optional(),
  learningRate: z.number().optional()
});

/** A rank's mean step, phase by phase (RankStepTimes in packages/coordinator run-timeline.ts). */
const RankStepSecondsSchema = z.looseObject({
  rank: z.number().int().min(0),
  backend: z.string().optional(),
  dataWaitSeconds: z.number().min(0),
  computeSeconds: z.number().min(0),
  allreduceSeconds: z.number().min(0),
  optimizerSeconds: z.number().min(0)
});

/** The last validation by class (ValidationByClass in packages/coordinator run-timeline.ts). */
const ValidationSchema = z.looseObject({
  epoch: z.number().int().min(0),
  classes: z.array(z.string()).min(1),
  /** confusion[truth][prediction], summed over the ranks. */
  confusion: z.array(z.array(z.number().min(0)))
});

const OptimizerSchema = z.looseObject({
  kind: z.string(),
  lr: z.number().optional(),
  momentum: z.number().optional(),
  weightDecay: z.number().optional()
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
  freezeBatchNorm: z.boolean().optional(),
  unfreezeAfterEpochs: z.number().int().min(0).optional(),
  labelSmoothing: z.number().optional(),
  clipGradNorm: z.number().optional()
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
  backend: z.string().optional()
});

const RestartSchema = z.looseObject({
  generation: z.number().int().min(0),
  reason: z.string(),
  at: z.string()
});

const CheckpointSchema = z.looseObject({
  key: z.string(),
  epoch: z.number().int().min(0),
  globalStep: z.number().int().min(0),
  bytes: z.number().min(0),
  at: z.string()
});

/** The run plan (packages/coordinator run-plan.ts), as far as the report shows it. */
const PlanSchema = z.looseObject({
  dataset: z.looseObject({
    uri: z.string(),
    classes: z.array(z.string()),
    images: z.number().int().min(0),
    trainImages: z.number().int().min(0),
    valImages: z.number().int().min(0)
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
    scaledWithGlobalBatch: z.boolean().optional()
  }),
  pretrained: z.string().nullable(),
  seed: z.number().int().optional(),
  frozen: z.string().optional(),
  imageSize: z.number().int().min(1),
  augment: z.boolean().optional(),
  backend: z.looseObject({ requested: z.string(), perRank: z.array(z.string()).nullable() }).optional(),
  output: z
    .looseObject({ dir: z.string(), checkpoints: z.string().optional(), model: z.string().optional() })
    .optional()
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
    globalStep: z.number().int().min(0)
  }),
  weightsSha256: z.array(z.string()).default([]),
  weightsIdentical: z.boolean(),
  summary: z.record(z.string(), z.unknown()).default({}),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationSeconds: z.number().min(0),
  // Null where the coordinator could not make one; the report treats that as absent.
  plan: PlanSchema.nullish().transform((plan) => plan ?? undefined),
  steps: z.array(StepSchema).optional(),
  rankStepSeconds: z.array(RankStepSecondsSchema).optional(),
  validation: ValidationSchema.nullish().transform((validation) => validation ?? undefined)
});

export type RunMetrics = z.output<typeof RunMetricsSchema>;
export type EpochMetrics = RunMetrics['epochs'][number];
export type RunPlanMetrics = NonNullable<RunMetrics['plan']>;
export type RankStepSeconds = NonNullable<RunMetrics['rankStepSeconds']>[number];

/** `ringtrain eval --out eval.json`: the report takes its confusion matrix (packages/worker EvaluationReport). */
export const EvaluationSchema = z.looseObject({
  dataset: z.string().optional(),
  split: z.string(),
  count: z.number().int().min(0),
  accuracy: z.number(),
  loss: z.number().nullable().optional(),
  classes: z.array(z.string()).min(1),
  confusion: z.array(z.array(z.number().min(0)))
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
  const lines = error.issues
    .slice(0, limit)
    .map((issue) => `  ${issue.path.map(String).join('.') || '(the whole file)'}: ${issue.message}`);
  if (error.issues.length > limit) lines.push(`  … and ${error.issues.length - limit} more`);
  return lines.join('\n');
}

function parseJson(text: string, origin: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MetricsFileError(
      `${origin} is not JSON (${error instanceof Error ? error.message : String(error)}): ${what}`
    );
  }
}

/** Parses the text of a metrics.json; `origin` names the file in messages. */
export function parseRunMetrics(text: string, origin: string): RunMetrics {
  const json = parseJson(
    text,
    origin,
    'it was cut short or is not a metrics.json; the coordinator writes it whole when a run ends, so rerun or resume the run (ringtrain train --resume --out <dir>)'
  );
  const result = RunMetricsSchema.safeParse(json);
  if (result.success) {
    checkConsistency(result.data, origin);
    return result.data;
  }
  throw new MetricsFileError(
    `${origin} is not a run's metrics.json as ringtrain writes it:\n${describeIssues(result.error)}\n` +
      'give the --out directory of a finished `ringtrain train` (or the output.uri of a TrainingRun), or its metrics.json'
  );
}

/** Facts the schema cannot state: a confusion matrix has one row and one column per class. */
function checkConsistency(metrics: RunMetrics, origin: string): void {
  const validation = metrics.validation;
  if (validation !== undefined && !isSquare(validation.confusion, validation.classes.length)) {
    throw new MetricsFileError(
      `${origin}: validation.confusion is not ${validation.classes.length} × ${validation.classes.length} (one row and column per class): the file is damaged; rerun the run`
    );
  }
}

function isSquare(matrix: readonly (readonly number[])[], size: number): boolean {
  return matrix.length === size && matrix.every((row) => row.length === size);
}

export function parseEvaluation(text: string, origin: string): Evaluation {
  const json = parseJson(text, origin, 'give the file that `ringtrain eval <run> --out eval.json` wrote');
  const result = EvaluationSchema.safeParse(json);
  if (!result.success) {
    throw new MetricsFileError(
      `${origin} is not an evaluation as \`ringtrain eval --out\` writes it:\n${describeIssues(result.error)}\ngive the file that \`ringtrain eval <run> --out eval.json\` wrote`
    );
  }
  const { classes, confusion } = result.data;
  if (!isSquare(confusion, classes.length)) {
    throw new MetricsFileError(
      `${origin}: its confusion matrix is not ${classes.length} × ${classes.length} (one row and column per class): rerun ringtrain eval`
    );
  }
  return result.data;
}
