import { loadManifest } from '@ringtrain/dataset';
import { z } from 'zod';
import { iterationsOfEpoch, resolveRunConfig } from './resolve-config.js';
import { checkpointsUri, type RunConfig } from '@ringtrain/protocol';

/** What the plan needs to know about the dataset: the real counts, from its manifest. */
export interface DatasetCounts {
  classes: string[];
  trainImages: number;
  valImages: number;
}

/**
 * A run explained before it starts, in the vocabulary of a fine-tuning crash course (epoch, batch, iteration,
 * learning rate, pretrained weights, frozen layers), from the real numbers. Printed by `ringtrain train`, logged
 * by the coordinator, kept in metrics.json and shown on the dashboard.
 */
export interface RunPlan {
  runId: string;
  dataset: { uri: string; classes: string[]; images: number; trainImages: number; valImages: number };
  /** Ranks of the ring (a worker is one rank, one process). */
  workers: number;
  /**
   * Ranks that share one pod (a TrainingRun's spec.workers.ranksPerPod, torchrun's --nproc-per-node), present when
   * above 1: the ring's workers / ranksPerPod pods, neighbours on the ring sharing a pod.
   */
  ranksPerPod?: number;
  batchPerWorker: number;
  /** workers × batchPerWorker: the images whose gradients are averaged into one optimizer step. */
  globalBatch: number;
  /** Optimizer steps of one epoch; the last one may hold fewer than globalBatch images. */
  iterationsPerEpoch: number;
  /** Images in the last iteration of an epoch (globalBatch when the split divides evenly). */
  lastIterationImages: number;
  /** Training images skipped each epoch so that every worker gets the same count (fewer than `workers`). */
  droppedPerEpoch: number;
  epochs: number;
  /** iterationsPerEpoch × epochs, or maxSteps when that comes first. */
  totalIterations: number;
  maxSteps: number | null;
  optimizer: {
    kind: 'adam' | 'sgd';
    learningRate: number;
    momentum: number | null;
    weightDecay: number;
    /** How the rate changes over the run, in words ("constant", "cosine decay to 0 over 600 iterations"). */
    schedule: string;
    warmupIterations: number;
    /**
     * Always false today: Ringtrain applies the rate as given to the gradient averaged over the global batch;
     * it does not rescale it when the number of workers changes the global batch (no linear scaling rule).
     */
    scaledWithGlobalBatch: false;
    /** AdamW: Adam with weight decay applied to the weights, not added to the gradient. */
    decoupledWeightDecay: boolean;
    labelSmoothing: number;
    /** The averaged gradient's global L2 norm is clipped to this before each step; null: never. */
    clipGradNorm: number | null;
  };
  /** How gradients travel in the all-reduce (the weights and the optimizer stay float32). */
  gradientWire: RunConfig['gradientWire'];
  /** Links per ring edge, each on its own collective thread. */
  collectiveStripes: number;
  /** Weights the run starts from (torchvision safetensors URI), or null for a seeded random initialisation. */
  pretrained: string | null;
  seed: number;
  /** What does not train, in words. */
  frozen: string;
  freezeBackbone: boolean;
  unfreezeAfterEpochs: number | null;
  imageSize: number;
  augment: boolean;
  backend: {
    requested: RunConfig['backend'];
    /** The backend each rank runs, by rank: known once the workers have taken their first step. */
    perRank: string[] | null;
  };
  output: {
    dir: string;
    checkpoints: string;
    model: string;
    /** Where the best model by validation accuracy is kept, beside `model`. */
    bestModel: string;
    metrics: string;
    /** TensorBoard's log directory; null with TensorBoard off. */
    tensorboard: string | null;
    checkpointEveryIterations: number;
  };
  /** Epochs without a new best validation accuracy that end the run; null: early stopping off. */
  earlyStoppingPatience: number | null;
}

/**
 * The parts of `config.training` (the model package's TrainingConfigInput) the plan describes, with the same
 * defaults as the model's schema. Lenient on purpose: the worker validates `training` strictly with the model's
 * own schema, and the coordinator does not depend on the model package.
 */
const TrainingSummarySchema = z.looseObject({
  imageSize: z.number().int().positive().default(224),
  optimizer: z
    .looseObject({
      kind: z.enum(['adam', 'sgd']).default('adam'),
      lr: z.number().positive().optional(),
      momentum: z.number().min(0).optional(),
      weightDecay: z.number().min(0).default(0),
      decoupled: z.boolean().default(false)
    })
    .default({ kind: 'adam', weightDecay: 0, decoupled: false }),
  schedule: z
    .looseObject({
      kind: z.enum(['constant', 'step', 'cosine']).default('constant'),
      stepSize: z.number().optional(),
      gamma: z.number().optional(),
      totalSteps: z.number().optional(),
      minLr: z.number().optional()
    })
    .default({ kind: 'constant' }),
  warmupSteps: z.number().int().min(0).default(0),
  labelSmoothing: z.number().min(0).default(0),
  clipGradNorm: z.number().positive().optional(),
  freezeBackbone: z.boolean().default(false),
  freezeBatchNorm: z.boolean().default(false),
  unfreezeAfterEpochs: z.number().int().min(0).optional()
});

/** The model package's default rates (training-config.ts), used when the configuration names none. */
const DEFAULT_LEARNING_RATE = { adam: 1e-3, sgd: 1e-2 } as const;

function joinUri(base: string, key: string): string {
  return `${base.replace(/\/+$/, '')}/${key}`;
}

function describeSchedule(schedule: z.output<typeof TrainingSummarySchema>['schedule'], lr: number): string {
  if (schedule.kind === 'step')
    return `step decay: × ${schedule.gamma ?? 0.1} every ${schedule.stepSize ?? '?'} iterations`;
  if (schedule.kind === 'cosine')
    return `cosine decay from ${formatRate(lr)} to ${formatRate(schedule.minLr ?? 0)} over ${schedule.totalSteps ?? '?'} iterations`;
  return 'constant';
}

/** Builds the plan from a validated run configuration and the dataset's real counts. Pure. */
/** The size the workers train at: `training.imageSize`, or the model's default (the in-cluster ingest downscales for it). */
export function trainingImageSize(config: Pick<RunConfig, 'training'>): number {
  return TrainingSummarySchema.shape.imageSize.parse(config.training.imageSize);
}

export function describeRunPlan(
  config: RunConfig,
  dataset: DatasetCounts,
  backendsPerRank: string[] | null = null
): RunPlan {
  const parsed = TrainingSummarySchema.safeParse(config.training);
  if (!parsed.success) {
    throw new Error(
      `cannot describe the run: training.${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'}`
    );
  }
  const training = parsed.data;
  const globalBatch = config.workers * config.batchSize;
  const epoch = iterationsOfEpoch(dataset.trainImages, config.workers, config.batchSize, config.dropLastBatchBelow);
  const planned = epoch.iterations * config.epochs;
  const kind = training.optimizer.kind;
  const learningRate = training.optimizer.lr ?? DEFAULT_LEARNING_RATE[kind];
  const freezeBackbone = training.freezeBackbone;
  const unfreezeAfterEpochs = freezeBackbone ? (training.unfreezeAfterEpochs ?? null) : null;
  let frozen = 'nothing: every layer trains';
  const batchNorm = training.freezeBatchNorm
    ? 'its batch norm stays in inference mode, running statistics fixed'
    : "its batch norm stays in train mode, as PyTorch's model.train(): running statistics adapt to the new data";
  if (freezeBackbone && unfreezeAfterEpochs === null)
    frozen = `the backbone (every layer but the final fc layer; ${batchNorm}): only the classifier head trains`;
  else if (freezeBackbone)
    frozen = `the backbone for the first ${unfreezeAfterEpochs} epochs (only the classifier head trains), then every layer trains`;
  return {
    runId: config.runId,
    dataset: {
      uri: config.dataset,
      classes: [...dataset.classes],
      images: dataset.trainImages + dataset.valImages,
      trainImages: dataset.trainImages,
      valImages: dataset.valImages
    },
    workers: config.workers,
    ...(config.ranksPerPod !== undefined && config.ranksPerPod > 1 ? { ranksPerPod: config.ranksPerPod } : {}),
    batchPerWorker: config.batchSize,
    globalBatch,
    iterationsPerEpoch: epoch.iterations,
    lastIterationImages: epoch.lastIterationImages,
    droppedPerEpoch: epoch.dropped,
    epochs: config.epochs,
    totalIterations: config.maxSteps === undefined ? planned : Math.min(planned, config.maxSteps),
    maxSteps: config.maxSteps ?? null,
    optimizer: {
      kind,
      learningRate,
      momentum: kind === 'sgd' ? (training.optimizer.momentum ?? 0) : null,
      weightDecay: training.optimizer.weightDecay,
      schedule: describeSchedule(training.schedule, learningRate),
      warmupIterations: training.warmupSteps,
      scaledWithGlobalBatch: false,
      decoupledWeightDecay: kind === 'adam' && training.optimizer.decoupled,
      labelSmoothing: training.labelSmoothing,
      clipGradNorm: training.clipGradNorm ?? null
    },
    gradientWire: config.gradientWire,
    collectiveStripes: config.collectiveStripes,
    pretrained: config.pretrained ?? null,
    seed: config.seed,
    frozen,
    freezeBackbone,
    unfreezeAfterEpochs,
    imageSize: training.imageSize,
    augment: config.augment,
    backend: { requested: config.backend, perRank: backendsPerRank === null ? null : [...backendsPerRank] },
    output: {
      dir: config.out,
      checkpoints: checkpointsUri(config),
      model: joinUri(config.out, 'model'),
      bestModel: joinUri(config.out, 'model-best'),
      metrics: joinUri(config.out, 'metrics.json'),
      tensorboard: config.tensorboard ? joinUri(config.out, 'tb') : null,
      checkpointEveryIterations: config.checkpointEverySteps
    },
    earlyStoppingPatience: config.earlyStopping?.patience ?? null
  };
}

/**
 * Reads the dataset's manifest for the real counts, and describes the run as the workers will train it: with
 * what the coordinator fills in from the manifest (class count, an epoch-based schedule in steps).
 */
export async function loadRunPlan(config: RunConfig): Promise<RunPlan> {
  const { manifest } = await loadManifest(config.dataset);
  const counts = {
    classes: manifest.classes,
    trainImages: manifest.splits.train.count,
    valImages: manifest.splits.val.count
  };
  return describeRunPlan(resolveRunConfig(config, counts), counts);
}

const count = (value: number): string => value.toLocaleString('en-US');
const plural = (value: number, one: string, many = `${one}s`): string => `${count(value)} ${value === 1 ? one : many}`;

function formatRate(rate: number): string {
  return rate === 0 || rate >= 1e-3 ? String(Number(rate.toPrecision(6))) : rate.toExponential();
}

function listClasses(classes: string[]): string {
  const shown = classes.length <= 10 ? classes : [...classes.slice(0, 8), '…', classes.at(-1)!];
  return shown.join(', ');
}

/** One line naming the backend of each rank ("rank 0: wasm, rank 1: wasm"), or what was asked for until known. */
export function describeBackends(plan: Pick<RunPlan, 'backend' | 'workers'>): string {
  const perRank = plan.backend.perRank;
  if (perRank === null) {
    return plan.backend.requested === 'auto'
      ? `chosen by each worker when it starts (tensorflow if its native library loads, else wasm, else cpu)`
      : `${plan.backend.requested} on each of the ${plan.workers} workers`;
  }
  const everyWorker =
    perRank.length === 1 ? 'the only worker' : perRank.length === 2 ? 'both workers' : `all ${perRank.length} workers`;
  if (perRank.every((name) => name === perRank[0])) return `${perRank[0]} on ${everyWorker}`;
  return perRank.map((name, rank) => `rank ${rank}: ${name}`).join(', ');
}

/** The plan as the lines `ringtrain train` prints (and the coordinator logs), in the course's words. */
/** ` (2 pods × 2 ranks each)` when pods run several ranks; nothing otherwise. */
function podsText(plan: Pick<RunPlan, 'workers' | 'ranksPerPod'>): string {
  const perPod = plan.ranksPerPod ?? 1;
  return perPod > 1 ? ` (${plural(Math.ceil(plan.workers / perPod), 'pod')} × ${count(perPod)} ranks each)` : '';
}

/** What happens to the images that do not fill the epoch's last global batch. */
function droppedText(plan: RunPlan): string {
  const last =
    plan.lastIterationImages === plan.globalBatch
      ? ''
      : `the last one takes ${plural(plan.lastIterationImages, 'image')}`;
  if (plan.droppedPerEpoch === 0) return last;
  // Fewer than one per worker: the remainder policy; a whole last batch: dropLastBatchBelow.
  const why =
    plan.droppedPerEpoch < plan.workers
      ? 'so every worker gets as many'
      : `a last batch that small would give batch norm a handful of images per worker; --drop-last-batch-below 0 keeps it`;
  const dropped =
    plan.droppedPerEpoch === 1
      ? `the last image of each epoch is dropped (${why})`
      : `the last ${count(plan.droppedPerEpoch)} images of each epoch are dropped (${why})`;
  return last === '' ? dropped : `${last}; ${dropped}`;
}

export function renderRunPlan(plan: RunPlan): string {
  const { optimizer } = plan;
  const name =
    optimizer.kind === 'adam'
      ? optimizer.decoupledWeightDecay
        ? 'AdamW'
        : 'Adam'
      : `SGD${optimizer.momentum ? ` with momentum ${optimizer.momentum}` : ''}`;
  const extras = [
    optimizer.schedule,
    ...(optimizer.warmupIterations > 0
      ? [`linear warmup over the first ${plural(optimizer.warmupIterations, 'iteration')}`]
      : []),
    ...(optimizer.weightDecay > 0 ? [`weight decay ${optimizer.weightDecay}`] : []),
    ...(optimizer.labelSmoothing > 0 ? [`label smoothing ${optimizer.labelSmoothing}`] : []),
    ...(optimizer.clipGradNorm !== null ? [`gradient norm clipped to ${optimizer.clipGradNorm}`] : [])
  ];
  const division = `${count(plan.dataset.trainImages)} training images ÷ global batch ${count(plan.globalBatch)}`;
  const exact = plan.lastIterationImages === plan.globalBatch && plan.droppedPerEpoch === 0;
  const iterations = exact
    ? `${division} = ${plural(plan.iterationsPerEpoch, 'iteration')} per epoch`
    : `${division} = ${(plan.dataset.trainImages / plan.globalBatch).toFixed(2)} → ${plural(plan.iterationsPerEpoch, 'iteration')} per epoch ` +
      `(${droppedText(plan)})`;
  const total =
    plan.maxSteps !== null && plan.maxSteps < plan.iterationsPerEpoch * plan.epochs
      ? `stops after ${plural(plan.totalIterations, 'iteration')} (--max-steps), before the ${plural(plan.epochs, 'epoch')} of ${plural(plan.iterationsPerEpoch * plan.epochs, 'iteration')} are done`
      : `${plural(plan.epochs, 'epoch')} × ${plural(plan.iterationsPerEpoch, 'iteration')} = ${plural(plan.totalIterations, 'iteration')} (optimizer steps) in total; ` +
        (plan.droppedPerEpoch === 0
          ? 'each epoch sees every training image once'
          : `each epoch sees every training image once but the ${plan.droppedPerEpoch === 1 ? 'one' : count(plan.droppedPerEpoch)} it leaves out, other ones each epoch`);
  const checkpoints =
    plan.output.checkpointEveryIterations > 0
      ? `every ${plural(plan.output.checkpointEveryIterations, 'iteration')} and at each epoch end`
      : 'at each epoch end';
  const lines: [string, string][] = [
    [
      'data',
      `${plural(plan.dataset.classes.length, 'class', 'classes')} (${listClasses(plan.dataset.classes)}); ${plural(plan.dataset.images, 'image')}: ${count(plan.dataset.trainImages)} for training, ${count(plan.dataset.valImages)} for validation`
    ],
    [
      'batch',
      `${plural(plan.workers, 'worker')}${podsText(plan)} × ${plural(plan.batchPerWorker, 'image')} per worker = global batch ${count(plan.globalBatch)}`
    ],
    ['iterations', iterations],
    ['epochs', total],
    ['optimizer', `${name}, learning rate ${formatRate(optimizer.learningRate)} (${extras.join('; ')})`],
    [
      'gradients',
      (plan.gradientWire === 'f32'
        ? 'averaged by a ring all-reduce in float32 (exact)'
        : `averaged by a ring all-reduce sent as ${plan.gradientWire} (half the bytes, rounded the same on every rank)`) +
        (plan.collectiveStripes > 1
          ? `, over ${plan.collectiveStripes} links per ring edge, each on its own thread`
          : '')
    ],
    [
      '',
      `the rate is not scaled with the global batch: it applies to the gradient averaged over all ${count(plan.globalBatch)} images`
    ],
    [
      'weights',
      plan.pretrained === null
        ? `random initialisation (seed ${plan.seed}): no pretrained weights`
        : `pretrained from ${plan.pretrained}; the final layer is replaced for ${plural(plan.dataset.classes.length, 'class', 'classes')}`
    ],
    ['frozen', plan.frozen],
    [
      'images',
      `${plan.imageSize}×${plan.imageSize} pixels, ${plan.augment ? 'random-resized-crop and horizontal flip for training' : 'no augmentation'}`
    ],
    ['validation', `${plural(plan.dataset.valImages, 'image')} at each epoch end, shared among the workers`],
    [
      '',
      `the best model by validation accuracy is kept in ${plan.output.bestModel}; ` +
        (plan.earlyStoppingPatience === null
          ? 'every epoch runs (no early stopping)'
          : `early stopping ends the run after ${plural(plan.earlyStoppingPatience, 'epoch')} without a better one`)
    ],
    ['backend', describeBackends(plan)],
    ['checkpoints', `${plan.output.checkpoints} ${checkpoints}`],
    ['model', `${plan.output.model} (and ${plan.output.metrics}) at the end`],
    ...(plan.output.tensorboard === null
      ? []
      : [
          ['tensorboard', `${plan.output.tensorboard} (tensorboard --logdir ${plan.output.tensorboard})`] as [
            string,
            string
          ]
        ])
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  return [
    `run plan of ${plan.runId}:`,
    ...lines.map(([label, text]) => `  ${(label === '' ? '' : `${label}:`).padEnd(width + 1)} ${text}`)
  ].join('\n');
}
