import { z } from 'zod';
import { API_VERSION, KIND } from './group-version.js';
import { TrainingRunSpecSchema } from './spec-schema.js';
import { TrainingRunStatusSchema } from './status-schema.js';

/** The metadata fields the operator reads; the rest passes through untouched. */
export const ObjectMetaSchema = z
  .object({
    name: z.string().min(1),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional()
  })
  .loose();

export const TrainingRunSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMetaSchema,
  spec: TrainingRunSpecSchema,
  status: TrainingRunStatusSchema.optional()
});

export type TrainingRun = z.output<typeof TrainingRunSchema>;
export type TrainingRunInput = z.input<typeof TrainingRunSchema>;
export type ObjectMeta = z.output<typeof ObjectMetaSchema>;

/**
 * Where a run's checkpoints go: spec.checkpoint.uri, or <output.uri>/checkpoints. The coordinator's run
 * configuration carries it to the workers, and status.lastCheckpoint.uri names an object under it.
 */
export function checkpointsUri(run: Pick<TrainingRun, 'spec'>): string {
  return (run.spec.checkpoint.uri ?? `${run.spec.output.uri.replace(/\/+$/, '')}/checkpoints`).replace(/\/+$/, '');
}
