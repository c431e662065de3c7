import { z } from 'zod';

/** RFC 3339 time as the API server serialises metav1.Time. */
const time = z.string().max(64).meta({ format: 'date-time' });

export const PHASES = ['Pending', 'Running', 'Restarting', 'Succeeded', 'Failed', 'Suspended'] as const;
export const PhaseSchema = z.enum(PHASES);
export type Phase = z.output<typeof PhaseSchema>;

/** metav1.Condition, field for field, so kubectl and generic tooling (kstatus, Argo CD health) read it. */
export const ConditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: time,
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32_768)
});
export type Condition = z.output<typeof ConditionSchema>;

export const FAILURE_REASONS = [
  'Error',
  'OOMKilled',
  'Evicted',
  'Preempted',
  'NodeLost',
  'Signal',
  'Stalled',
  'Hung',
  'DeadlineExceeded'
] as const;

export const LastFailureSchema = z.object({
  pod: z.string().max(253),
  rank: z
    .int()
    .min(-1)
    .optional()
    .meta({ description: 'worker rank (a pod of several ranks: its first); absent for the coordinator' }),
  exitCode: z.int().optional(),
  reason: z.enum(FAILURE_REASONS),
  message: z.string().max(4096),
  retryable: z.boolean(),
  countedAgainstBackoffLimit: z.boolean(),
  time
});
export type LastFailure = z.output<typeof LastFailureSchema>;

export const TrainingRunStatusSchema = z
  .object({
    phase: PhaseSchema.optional(),
    conditions: z
      .array(ConditionSchema)
      .max(16)
      .optional()
      .meta({
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type']
      }),
    observedGeneration: z.int().min(0).optional(),
    readyWorkers: z.int().min(0).optional().meta({ description: 'worker pods Ready (each runs ranksPerPod ranks)' }),
    workers: z
      .string()
      .max(32)
      .optional()
      .meta({ description: 'worker pods "ready/desired", for the printer column Workers' }),
    ranks: z.int().min(0).optional().meta({
      description:
        "ranks of the ring (replicas × ranksPerPod), for the printer column Ranks; what the coordinator's /status counts"
    }),
    attempt: z.int().min(0).optional().meta({ description: 'gang attempt: 1 at first start, +1 per gang restart' }),
    restarts: z.int().min(0).optional().meta({ description: 'gang restarts counted against backoffLimit' }),
    epoch: z.int().min(0).optional(),
    step: z.int().min(0).optional(),
    loss: z.number().optional(),
    accuracy: z.number().optional(),
    imagesPerSecond: z.number().optional(),
    ingest: z
      .object({ imagesDone: z.int().min(0), imagesTotal: z.int().min(0), shardsWritten: z.int().min(0) })
      .optional()
      .meta({
        description:
          "the coordinator's ingest of spec.dataset.ingest in this attempt, before training: images read and shards written"
      }),
    plan: z
      .object({
        summary: z.string().max(1024),
        classes: z.int().min(0),
        trainImages: z.int().min(0),
        valImages: z.int().min(0),
        globalBatch: z.int().min(0),
        iterationsPerEpoch: z.int().min(0),
        totalIterations: z.int().min(0)
      })
      .optional()
      .meta({
        description: 'the run plan the coordinator computed from the dataset (its Planned event says it in words)'
      }),
    lastProgressTime: time.optional(),
    lastFailure: LastFailureSchema.optional(),
    lastCheckpoint: z.object({ uri: z.string().max(2048), step: z.int().min(0), time: time.optional() }).optional(),
    modelUri: z.string().max(2048).optional(),
    startTime: time.optional(),
    completionTime: time.optional()
  })
  .meta({ description: 'observed state, written by the operator only' });

export type TrainingRunStatus = z.output<typeof TrainingRunStatusSchema>;
