import { z } from 'zod';

/**
 * How a run trains, identical on every rank: one schema with one default per setting, shared by the TrainingRun
 * CRD (`spec.hyperparameters`, so `kubectl explain` shows these defaults), `ringtrain train`'s flags and the docs.
 * The defaults are the crash course's fine-tuning recipe: Adam at lr 0.001, cross-entropy, batch 32 per rank,
 * 10 epochs, a constant learning rate, no weight decay. Bounds are also there for the API server, which estimates
 * the cost of CEL rules from them.
 */
export const GRADIENT_WIRES = ['f32', 'bf16', 'f16'] as const;
export type GradientWire = (typeof GRADIENT_WIRES)[number];
/** The most links per ring edge: each is a collective thread, and past a node's spare cores there is nothing to gain. */
export const MAX_COLLECTIVE_STRIPES = 8;

export const HyperparametersSchema = z
  .object({
    epochs: z.int().min(1).max(10_000).default(10).meta({ description: 'passes over the training images' }),
    batchSizePerWorker: z
      .int()
      .min(1)
      .max(4096)
      .default(32)
      .meta({ description: 'images per rank per step; the global batch is ranks × this' }),
    learningRate: z
      .number()
      .gt(0)
      .max(10)
      .default(0.001)
      .meta({ description: "the optimizer's learning rate (the peak, with a schedule or warm-up)" }),
    optimizer: z
      .enum(['adam', 'adamw', 'sgd'])
      .default('adam')
      .meta({ description: 'adam (torch.optim.Adam), adamw (decoupled weight decay) or sgd' }),
    momentum: z.number().min(0).lt(1).default(0.9).meta({ description: 'SGD momentum (sgd only)' }),
    weightDecay: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .meta({ description: "L2 penalty as torch's optimizers apply it (adamw: decoupled)" }),
    schedule: z.enum(['constant', 'cosine', 'step']).default('constant').meta({
      description:
        'learning-rate schedule over the whole run: constant, cosine (to 0 at the last step) or step (×0.1 at each third)'
    }),
    warmupEpochs: z
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .meta({ description: 'linear warm-up of the learning rate over this many epochs' }),
    seed: z
      .int()
      .min(0)
      .max(2_147_483_647)
      .default(0)
      .meta({ description: "the head's initialisation, the validation split, shuffling and augmentation" }),
    imageSize: z.int().min(16).max(1024).default(224).meta({ description: 'square input size in pixels' }),
    augment: z.boolean().default(false).meta({
      description:
        'random-resized-crop and horizontal flip for training images (off: the evaluation transform; leave it off when a flip changes the class, as for digits)'
    }),
    labelSmoothing: z
      .number()
      .min(0)
      .lt(1)
      .default(0)
      .meta({ description: "cross-entropy's label smoothing, as torch.nn.CrossEntropyLoss(label_smoothing=…)" }),
    clipGradNorm: z.number().gt(0).max(1e6).optional().meta({
      description: "clip the averaged gradient's global L2 norm to this before each step (unset: no clipping)"
    }),
    microBatchSize: z.int().min(1).max(4096).optional().meta({
      description:
        'split each rank batch into micro-batches of at most this many images, gradients summed: less memory, same step'
    }),
    loaderThreads: z.int().min(1).max(64).default(1).meta({
      description:
        "image-decoding threads per rank, beside its compute threads: raise it when steps wait for data (a GPU's step is faster than one thread's decoding)"
    }),
    gradientWire: z.enum(GRADIENT_WIRES).default('f32').meta({
      description:
        'element encoding of gradients on the ring: f32 exact; bf16 or f16 halve the bytes sent (every rank still ends identical)'
    }),
    collectiveStripes: z.int().min(1).max(MAX_COLLECTIVE_STRIPES).default(1).meta({
      description:
        'links per ring edge, each its own HTTP/2 connection served by its own collective thread: a large all-reduce is cut into this many slices sent side by side. Raise it (2–4) on nodes with spare cores whose network is faster than one thread moves (see docs/concepts.md); 1 is one link'
    }),
    overlapAllReduce: z.boolean().default(false).meta({
      description:
        'all-reduce each gradient bucket (head, layer4, … layer1 and the stem) as the backward pass finishes it, not the whole gradient after it: the same gradients, with the communication behind the computation'
    }),
    earlyStoppingPatience: z.int().min(1).max(10_000).optional().meta({
      description:
        'end the run once validation accuracy has not improved for this many epochs (unset: every epoch runs); the best model is kept in <output>/model-best either way'
    }),
    dropLastBatchBelow: z.number().min(0).max(1).optional().meta({
      description:
        "drop an epoch's last batch when it holds less than this fraction of the global batch (default: half; 0 keeps it, 1 is PyTorch's drop_last)"
    })
  })
  .meta({ description: 'optimisation settings, identical on every rank; the defaults are the fine-tuning recipe' });

export type Hyperparameters = z.output<typeof HyperparametersSchema>;

/** Every default of the schema, for the run configuration's fields that carry a hyperparameter (one default each). */
export const HYPERPARAMETER_DEFAULTS: Hyperparameters = HyperparametersSchema.parse({});
export type HyperparametersInput = z.input<typeof HyperparametersSchema>;

/** What a model spec adds to the training step: transfer learning's frozen backbone. */
export interface FreezeSettings {
  freezeBackbone: boolean;
  freezeBatchNorm: boolean;
  unfreezeAfterEpochs?: number;
}

/**
 * The part of a run configuration the hyperparameters decide, in the run configuration's terms
 * (@ringtrain/coordinator's RunConfigInput, which validates it): the learning-rate schedule stays in epochs
 * (`lrSchedule`) because only the coordinator, which reads the dataset's manifest, knows the steps per epoch.
 * `ringtrain train` and the operator both build their runs with it, so a flag and a spec field mean one thing.
 */
export function runSettingsFromHyperparameters(
  hp: Hyperparameters,
  freeze: FreezeSettings
): {
  epochs: number;
  batchSize: number;
  seed: number;
  augment: boolean;
  loaderThreads: number;
  gradientWire: GradientWire;
  collectiveStripes: number;
  overlapAllReduce: boolean;
  dropLastBatchBelow?: number;
  earlyStopping?: { patience: number };
  lrSchedule: { kind: Hyperparameters['schedule']; warmupEpochs: number };
  training: Record<string, unknown>;
} {
  return {
    epochs: hp.epochs,
    batchSize: hp.batchSizePerWorker,
    seed: hp.seed,
    augment: hp.augment,
    loaderThreads: hp.loaderThreads,
    gradientWire: hp.gradientWire,
    collectiveStripes: hp.collectiveStripes,
    overlapAllReduce: hp.overlapAllReduce,
    ...(hp.dropLastBatchBelow !== undefined ? { dropLastBatchBelow: hp.dropLastBatchBelow } : {}),
    ...(hp.earlyStoppingPatience !== undefined ? { earlyStopping: { patience: hp.earlyStoppingPatience } } : {}),
    lrSchedule: { kind: hp.schedule, warmupEpochs: hp.warmupEpochs },
    // packages/model's TrainingConfigInput, which the worker validates with the model's own schema.
    training: {
      imageSize: hp.imageSize,
      optimizer: optimizerConfig(hp),
      labelSmoothing: hp.labelSmoothing,
      ...(hp.clipGradNorm !== undefined ? { clipGradNorm: hp.clipGradNorm } : {}),
      ...(hp.microBatchSize !== undefined ? { microBatchSize: hp.microBatchSize } : {}),
      freezeBackbone: freeze.freezeBackbone,
      freezeBatchNorm: freeze.freezeBatchNorm,
      ...(freeze.unfreezeAfterEpochs !== undefined ? { unfreezeAfterEpochs: freeze.unfreezeAfterEpochs } : {}),
      seed: hp.seed
    }
  };
}

/** The optimizer in the model's terms: AdamW is Adam with decoupled weight decay; momentum is SGD's alone. */
function optimizerConfig(hp: Hyperparameters): Record<string, unknown> {
  switch (hp.optimizer) {
    case 'sgd':
      return { kind: 'sgd', lr: hp.learningRate, momentum: hp.momentum, weightDecay: hp.weightDecay };
    case 'adam':
      return { kind: 'adam', lr: hp.learningRate, weightDecay: hp.weightDecay };
    case 'adamw':
      return { kind: 'adam', lr: hp.learningRate, weightDecay: hp.weightDecay, decoupled: true };
  }
}

/**
 * Rank 0 checkpoints every this many optimizer steps, and at every epoch end (`ringtrain train
 * --checkpoint-every`, a TrainingRun's spec.checkpoint.everySteps). Epoch ends bound what a small run loses;
 * the step count bounds a long epoch's, without writing ResNet18 and Adam's ~140 MB every few seconds on a GPU.
 */
export const DEFAULT_CHECKPOINT_EVERY_STEPS = 500;
/** Checkpoints kept; older slots are overwritten. */
export const DEFAULT_KEEP_CHECKPOINTS = 3;
