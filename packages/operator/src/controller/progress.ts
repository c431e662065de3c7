import { z } from 'zod';
import type { TrainingRun } from '../api/training-run.js';
import type { CoordinatorProgress, CoordinatorReport, RunPlanSummary } from '../reconcile/plan.js';
import { COORDINATOR_HTTP_PORT, names } from '../resources/names.js';

/** Reads one run's progress; undefined when the coordinator cannot say (not up yet, unreachable). */
export type ProgressSource = (run: TrainingRun) => Promise<CoordinatorReport | undefined>;

// Only the fields the status shows, leniently: a newer coordinator may add fields, never break the operator.
const CoordinatorStatusSchema = z.object({
  lastStep: z
    .object({ epoch: z.number(), globalStep: z.number(), loss: z.number().optional(), accuracy: z.number().optional(), imagesPerSecond: z.number().optional() })
    .optional()
    .nullable(),
  checkpoints: z.array(z.object({ key: z.string(), globalStep: z.number(), at: z.string().optional() })).optional(),
  // Served while the coordinator ingests the run's dataset, before it trains.
  ingest: z.object({ imagesDone: z.int().min(0), imagesTotal: z.int().min(0), shardsWritten: z.int().min(0) }).optional(),
  // packages/coordinator's RunPlan, once the dataset has been read.
  plan: z
    .object({
      dataset: z.object({ classes: z.array(z.string()), trainImages: z.int().min(0), valImages: z.int().min(0) }),
      workers: z.int().min(1),
      batchPerWorker: z.int().min(1),
      globalBatch: z.int().min(1),
      iterationsPerEpoch: z.int().min(0),
      epochs: z.int().min(0),
      totalIterations: z.int().min(0),
      optimizer: z.object({ kind: z.string(), learningRate: z.number(), schedule: z.string() }),
    })
    .nullish(),
});

type CoordinatorPlan = NonNullable<z.output<typeof CoordinatorStatusSchema>['plan']>;

/** The plan in one line of the crash course's words, for an event (the full text is in the coordinator's log). */
function summarizePlan(plan: CoordinatorPlan): RunPlanSummary {
  const { dataset } = plan;
  const optimizer = `${plan.optimizer.kind === 'adam' ? 'Adam' : plan.optimizer.kind.toUpperCase()} at learning rate ${plan.optimizer.learningRate} (${plan.optimizer.schedule})`;
  return {
    summary:
      `${dataset.classes.length} classes; ${dataset.trainImages} training and ${dataset.valImages} validation images; ` +
      `${plan.workers} workers × ${plan.batchPerWorker} images = global batch ${plan.globalBatch}; ` +
      `${plan.iterationsPerEpoch} iterations per epoch × ${plan.epochs} epochs = ${plan.totalIterations} iterations; ${optimizer}`,
    classes: dataset.classes.length,
    trainImages: dataset.trainImages,
    valImages: dataset.valImages,
    globalBatch: plan.globalBatch,
    iterationsPerEpoch: plan.iterationsPerEpoch,
    totalIterations: plan.totalIterations,
  };
}

/**
 * Maps the coordinator's /status JSON (packages/coordinator RunStatus, or its ingest progress) to what the
 * TrainingRun shows; undefined when it says nothing the status shows yet.
 */
export function progressFromCoordinatorStatus(json: unknown, checkpointBase: string): CoordinatorReport | undefined {
  const parsed = CoordinatorStatusSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { ingest, plan } = parsed.data;
  const progress = trainingProgress(parsed.data, checkpointBase);
  const report: CoordinatorReport = {
    ...(progress ? { progress } : {}),
    ...(!progress && ingest ? { ingest: { imagesDone: ingest.imagesDone, imagesTotal: ingest.imagesTotal, shardsWritten: ingest.shardsWritten } } : {}),
    ...(plan ? { plan: summarizePlan(plan) } : {}),
  };
  return Object.keys(report).length === 0 ? undefined : report;
}

function trainingProgress(status: z.output<typeof CoordinatorStatusSchema>, checkpointBase: string): CoordinatorProgress | undefined {
  const step = status.lastStep;
  if (!step) return undefined;
  const last = status.checkpoints?.at(-1);
  return {
    epoch: step.epoch,
    step: step.globalStep,
    ...(step.loss !== undefined ? { loss: step.loss } : {}),
    ...(step.accuracy !== undefined ? { accuracy: step.accuracy } : {}),
    ...(step.imagesPerSecond !== undefined ? { imagesPerSecond: step.imagesPerSecond } : {}),
    ...(last ? { lastCheckpoint: { uri: `${checkpointBase.replace(/\/+$/, '')}/${last.key}`, step: last.globalStep, ...(last.at ? { time: last.at } : {}) } } : {}),
  };
}

/** Asks the coordinator Service in-cluster: http://<run>-coordinator.<namespace>.svc:8080/status. */
export const httpProgressSource: ProgressSource = async (run) => {
  const host = `${names.coordinatorService(run.metadata.name)}.${run.metadata.namespace ?? 'default'}.svc`;
  try {
    const response = await fetch(`http://${host}:${COORDINATOR_HTTP_PORT}/status`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    return progressFromCoordinatorStatus(await response.json(), run.spec.checkpoint.uri ?? `${run.spec.output.uri.replace(/\/+$/, '')}/checkpoints`);
  } catch {
    return undefined; // not up yet or unreachable: the status keeps the last progress it had
  }
};
