import { z } from 'zod';

/**
 * The training step's configuration, validated once where it enters (CLI flags, CRD spec, checkpoint) and
 * typed from the schema. Defaults follow the fine-tuning recipe: Adam, lr 1e-3, constant schedule.
 */
export const OptimizerConfigSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('adam'),
    lr: z.number().positive().default(1e-3),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    /** L2 added to the gradient as torch.optim.Adam does; with `decoupled`, AdamW's p ← p·(1 − lr·wd). */
    weightDecay: z.number().min(0).default(0),
    decoupled: z.boolean().default(false)
  }),
  z.object({
    kind: z.literal('sgd'),
    lr: z.number().positive().default(0.01),
    momentum: z.number().min(0).lt(1).default(0),
    nesterov: z.boolean().default(false),
    weightDecay: z.number().min(0).default(0)
  })
]);

export const LrScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  /** lr · gamma^⌊step / stepSize⌋ (torch StepLR, counted in optimizer steps). */
  z.object({
    kind: z.literal('step'),
    stepSize: z.number().int().positive(),
    gamma: z.number().positive().default(0.1)
  }),
  /** minLr + (lr − minLr)·(1 + cos(π·step/totalSteps))/2 (torch CosineAnnealingLR), flat after totalSteps. */
  z.object({ kind: z.literal('cosine'), totalSteps: z.number().int().positive(), minLr: z.number().min(0).default(0) })
]);

export const TrainingConfigSchema = z
  .object({
    numClasses: z.number().int().positive(),
    /** Square input size in pixels; 224 as ImageNet, smaller for tests and CPU runs. */
    imageSize: z.number().int().min(8).default(224),
    optimizer: OptimizerConfigSchema.prefault({ kind: 'adam' }),
    schedule: LrScheduleSchema.prefault({ kind: 'constant' }),
    /** Linear warmup: step t < warmupSteps uses lr · (t + 1)/warmupSteps on top of the schedule. */
    warmupSteps: z.number().int().min(0).default(0),
    /** Split each batch into micro-batches of at most this many images (memory), gradients averaged. */
    microBatchSize: z.number().int().positive().optional(),
    /** Clip the averaged gradient's global L2 norm to this value before the optimizer step. */
    clipGradNorm: z.number().positive().optional(),
    labelSmoothing: z.number().min(0).lt(1).default(0),
    /** Train the head only (PyTorch's `requires_grad = False` on every backbone parameter)... */
    freezeBackbone: z.boolean().default(false),
    /**
     * ...and with it keep the backbone's batch norm in inference mode (normalised with its running statistics,
     * which stay fixed). Off, as in the crash course, whose model stays in `train()` mode: batch norm normalises
     * with each batch's statistics, and its running statistics adapt to the new data.
     */
    freezeBatchNorm: z.boolean().default(false),
    /** ...until this many epochs have passed (absent: frozen for the whole run). */
    unfreezeAfterEpochs: z.number().int().min(0).optional(),
    /** Seeds the head's initialisation and the trainer's RNG. */
    seed: z.number().int().default(0)
  })
  .strict();

export type TrainingConfig = z.output<typeof TrainingConfigSchema>;
export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>;
export type OptimizerConfig = z.output<typeof OptimizerConfigSchema>;
export type LrSchedule = z.output<typeof LrScheduleSchema>;

/** Parses a configuration and turns schema problems into one error naming each field. */
export function parseTrainingConfig(input: TrainingConfigInput): TrainingConfig {
  const result = TrainingConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || 'config'}: ${issue.message}`);
  throw new Error(`invalid training configuration:\n${problems.join('\n')}`);
}

/** The learning rate of optimizer step `step` (0-based): warmup × schedule. */
export function learningRate(config: TrainingConfig, step: number): number {
  const base = config.optimizer.lr;
  const schedule = config.schedule;
  let lr = base;
  if (schedule.kind === 'step') lr = base * schedule.gamma ** Math.floor(step / schedule.stepSize);
  if (schedule.kind === 'cosine') {
    const t = Math.min(step, schedule.totalSteps) / schedule.totalSteps;
    lr = schedule.minLr + ((base - schedule.minLr) * (1 + Math.cos(Math.PI * t))) / 2;
  }
  if (step < config.warmupSteps) lr *= (step + 1) / config.warmupSteps;
  return lr;
}
