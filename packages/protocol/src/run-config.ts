import {
  DEFAULT_CHECKPOINT_EVERY_STEPS,
  DEFAULT_COLLECTIVE_TIMEOUT_SECONDS,
  DEFAULT_KEEP_CHECKPOINTS,
  GRADIENT_WIRES,
  HYPERPARAMETER_DEFAULTS,
  MAX_COLLECTIVE_STRIPES,
  MAX_WORLD_SIZE
} from '@ringtrain/proto';
import { z } from 'zod';

/**
 * One training run's configuration: validated once where it enters (the CLI's flags, a CRD spec), held by the
 * coordinator and handed to every worker at registration, where it is validated again with this same schema
 * (the worker's edge). `training` is the model package's TrainingConfigInput; the worker validates it with
 * the model's own schema, so the coordinator does not depend on the model.
 */
export const RunConfigSchema = z
  .object({
    runId: z.string().min(1),
    /** Dataset URI: a store holding manifest.json and shards (ingested, or ingested by the coordinator: `ingest`). */
    dataset: z.string().min(1),
    /**
     * A source the coordinator ingests into `dataset` before anything else, when `dataset` holds no complete
     * manifest yet (a TrainingRun's `spec.dataset.ingest`): one ingest per run, and a restarted coordinator
     * resumes it. `source` is what `ingest` reads: `s3://bucket/prefix` (`<prefix>/<class>/<image>`), a
     * `.csv`/`.jsonl` manifest object, or a local path.
     */
    ingest: z
      .object({
        source: z.string().min(1),
        valFraction: z.number().min(0).lt(1).default(0.1),
        seed: z.number().int().min(0).default(0),
        /**
         * Images whose longer side exceeds this are downscaled at ingest (`ringtrain ingest --max-resolution`);
         * unset, twice `training.imageSize` (at least 64), as `ringtrain train` ingests: @ringtrain/dataset's
         * defaultMaxResolution.
         */
        maxResolution: z.number().int().min(8).optional()
      })
      .strict()
      .optional(),
    /**
     * host:port of the dataset service that serves this dataset's epoch plans. Plans are pure functions of the
     * manifest, so a worker computes its own when the service is absent or unreachable.
     */
    datasetService: z.string().min(1).optional(),
    /** Output URI: model/, metrics.json and, unless `checkpoints` says otherwise, checkpoints/ go here. */
    out: z.string().min(1),
    /** Where checkpoints go (a TrainingRun's spec.checkpoint.uri); default `<out>/checkpoints`: see checkpointsUri. */
    checkpoints: z.string().min(1).optional(),
    /** Ranks of the ring; the TrainingRun CRD's spec.workers.replicas has the same bound. */
    workers: z.number().int().min(1).max(MAX_WORLD_SIZE),
    /**
     * Ranks that share one pod or machine (a TrainingRun's spec.workers.ranksPerPod), each a process of its own;
     * `workers` of them in all. Only how /status and the plan count pods (workers / ranksPerPod); unset: 1.
     */
    ranksPerPod: z.number().int().min(1).optional(),
    epochs: z.number().int().min(1),
    /** Per-rank batch size; a global step consumes workers × batchSize samples. */
    batchSize: z.number().int().min(1),
    seed: z.number().int().min(0).default(HYPERPARAMETER_DEFAULTS.seed),
    /** Canonical partitions of the epoch plans: fixed for the whole run so resume is exact. */
    partitions: z.number().int().min(1),
    /**
     * An epoch's last batch with fewer than this fraction of the global batch is dropped (its images train in
     * other epochs, which are shuffled anew): a handful of images per rank would make batch norm normalise over
     * almost nothing, and those statistics would be the last to move the running averages before validation.
     * 0 keeps every last batch; 1 drops every partial one (PyTorch's drop_last=True).
     */
    dropLastBatchBelow: z.number().min(0).max(1).default(0.5),
    /** Stop after this many optimizer steps in total (smoke runs, tests). */
    maxSteps: z.number().int().min(1).optional(),
    /** Rank 0 checkpoints every this many steps and at every epoch end (0: only at epoch ends). */
    checkpointEverySteps: z.number().int().min(0).default(DEFAULT_CHECKPOINT_EVERY_STEPS),
    /** Checkpoints kept; older slots are overwritten. */
    keepCheckpoints: z.number().int().min(1).default(DEFAULT_KEEP_CHECKPOINTS),
    /** Torchvision-layout safetensors URI to start from (its head is replaced when the class count differs). */
    pretrained: z.string().min(1).optional(),
    /**
     * TensorBoard event files under `<out>/tb/` (`tensorboard --logdir <out>/tb`), written by rank 0 through the
     * output's store: per step the training loss, accuracy, learning rate, images/s and the step's time split,
     * per epoch the validation loss and accuracy. On unless turned off, as a PyTorch user's SummaryWriter would be.
     */
    tensorboard: z.boolean().default(true),
    /**
     * Ends the run once validation accuracy has not improved for `patience` complete epochs in a row (Keras' and
     * Lightning's EarlyStopping on val accuracy); absent, every epoch runs. Either way the best model by validation
     * accuracy is exported to `<out>/model-best/` beside the last one's `<out>/model/`.
     */
    earlyStopping: z
      .object({ patience: z.number().int().min(1) })
      .strict()
      .optional(),
    /**
     * The model's training configuration (packages/model's TrainingConfigInput). `numClasses` may be left out:
     * the coordinator takes it from the dataset's manifest.
     */
    training: z.record(z.string(), z.unknown()),
    /**
     * A learning-rate schedule in epochs, for callers that cannot count optimizer steps because they have not
     * read the manifest (the operator): the coordinator turns it into `training.schedule` and
     * `training.warmupSteps` before any worker sees the configuration.
     */
    lrSchedule: z
      .object({ kind: z.enum(['constant', 'cosine', 'step']), warmupEpochs: z.number().int().min(0).default(0) })
      .strict()
      .optional(),
    /** Random-resized-crop + flip for training images (off for digits, where a flip changes the class). */
    augment: z.boolean().default(HYPERPARAMETER_DEFAULTS.augment),
    loaderThreads: z.number().int().min(1).default(HYPERPARAMETER_DEFAULTS.loaderThreads),
    /** Element encoding of gradients on the ring (spec.hyperparameters.gradientWire, `--gradient-wire`). */
    gradientWire: z.enum(GRADIENT_WIRES).default(HYPERPARAMETER_DEFAULTS.gradientWire),
    /** Links per ring edge, each on its own collective thread (spec.hyperparameters.collectiveStripes, `--collective-stripes`). */
    collectiveStripes: z
      .number()
      .int()
      .min(1)
      .max(MAX_COLLECTIVE_STRIPES)
      .default(HYPERPARAMETER_DEFAULTS.collectiveStripes),
    /**
     * Overlap the all-reduce with the backward pass (spec.hyperparameters.overlapAllReduce,
     * `ringtrain train --overlap-allreduce`): the trainer's staged
     * backward hands each gradient bucket over as it is final, head first, and its all-reduce starts at once. The
     * same gradients (bit for bit) reduced in five buckets instead of one; off by default until it measures faster.
     */
    overlapAllReduce: z.boolean().default(HYPERPARAMETER_DEFAULTS.overlapAllReduce),
    /** Local directory for each worker's shard cache. */
    cacheDir: z.string().min(1),
    /**
     * Bytes of shards each worker may keep under `cacheDir`, its training and validation caches together (a
     * TrainingRun's spec.workers.cacheSizeLimit, less headroom): least recently used shards no batch reads are
     * evicted beyond it, and a shard larger than its share is an error that names it.
     */
    cacheBytes: z
      .number()
      .int()
      .positive()
      .default(2 ** 31),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    /**
     * A collective operation fails when a peer sends nothing for this long (DEFAULT_COLLECTIVE_TIMEOUT_SECONDS,
     * spec.runPolicy.collectiveTimeoutSeconds in a cluster): what catches a rank whose step hangs while its
     * heartbeat thread still beats.
     */
    collectiveTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_COLLECTIVE_TIMEOUT_SECONDS * 1000),
    heartbeatIntervalMs: z.number().int().positive().default(1_000),
    /**
     * A rank that finds nothing listening at the coordinator's address for this long ends its generation and
     * registers again, so a restarted coordinator gathers the gang and the run resumes from its checkpoint.
     */
    coordinatorLostMs: z.number().int().positive().default(15_000)
  })
  .strict();

export type RunConfig = z.output<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

/**
 * The directory of a run's checkpoints: `checkpoints`, or `<out>/checkpoints`. Workers write there and the
 * keys they report (`slot-<k>.ckpt`) are relative to it, so `<checkpointsUri>/<key>` names a checkpoint.
 */
export function checkpointsUri(config: Pick<RunConfig, 'out' | 'checkpoints'>): string {
  return (config.checkpoints ?? `${config.out.replace(/\/+$/, '')}/checkpoints`).replace(/\/+$/, '');
}

/** Parses a run configuration; one error lists every field that is wrong. */
export function parseRunConfig(input: unknown, origin: string): RunConfig {
  const result = RunConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || 'config'}: ${issue.message}`);
  throw new Error(`invalid run configuration from ${origin}:\n${problems.join('\n')}`);
}
