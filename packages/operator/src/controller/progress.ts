import { z } from 'zod';
import type { TrainingRun } from '../api/training-run.js';
import type { CoordinatorReport } from '../reconcile/plan.js';
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
});

/** Maps the coordinator's /status JSON (packages/coordinator RunStatus, or its ingest progress) to what the TrainingRun shows. */
export function progressFromCoordinatorStatus(json: unknown, checkpointBase: string): CoordinatorReport | undefined {
  const parsed = CoordinatorStatusSchema.safeParse(json);
  if (!parsed.success) return undefined;
  if (!parsed.data.lastStep) {
    const ingest = parsed.data.ingest;
    return ingest ? { ingest: { imagesDone: ingest.imagesDone, imagesTotal: ingest.imagesTotal, shardsWritten: ingest.shardsWritten } } : undefined;
  }
  const step = parsed.data.lastStep;
  const last = parsed.data.checkpoints?.at(-1);
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
