import * as tf from '@tensorflow/tfjs-core';
import { recordTape } from './gradient-tape.js';
import type { RecordedTape } from './gradient-tape.js';
import { DeviceOptimizer } from './optimizer.js';
import { SeededRandom } from './random.js';
import { ResNet18 } from './resnet18.js';
import { FORWARD_STAGES, elementCount, forwardStageOf } from './resnet18-spec.js';
import type { ForwardStage } from './resnet18-spec.js';
import { decodeSafetensors, encodeSafetensors, float32Bytes, toFloat32 } from './safetensors.js';
import type { RawTensor } from './safetensors.js';
import { learningRate, parseTrainingConfig } from './training-config.js';
import type { TrainingConfig, TrainingConfigInput } from './training-config.js';

/** One batch as the loader delivers it: NHWC float pixels, already normalised. */
export interface TrainingBatch {
  /** count × imageSize × imageSize × 3 values, NHWC. */
  readonly images: Float32Array;
  /** count class indices in [0, numClasses). */
  readonly labels: Int32Array;
  readonly count: number;
}

export interface GradientResult {
  /** Mean loss over the batch (with label smoothing, if configured). */
  readonly loss: number;
  /** Images whose arg-max logit is the label. */
  readonly correct: number;
  readonly count: number;
  /**
   * Mean gradient over the batch, all trainable parameters concatenated in state-dict order (see
   * `gradientLayout()`), each in Ringtrain layout (HWIO convolutions, fc weight [in, out]).
   */
  readonly gradients: Float32Array;
}

export interface LayoutEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
}

/**
 * A contiguous range of the flat gradient (`gradientLayout()`) that the staged backward finishes at once: the
 * parameters of one or more forward stages.
 */
export interface GradientBucket {
  /** Position in the order buckets are finished and handed over: 0 is the head. */
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  /** The forward stages whose parameters it holds, in the order their backward runs. */
  readonly stages: readonly ForwardStage[];
}

/** A finished bucket: `values` is a view of the result's flat `gradients`, already final for this step. */
export interface ReadyGradientBucket extends GradientBucket {
  readonly values: Float32Array;
}

/**
 * The stages grouped into buckets, in the order the backward pass finishes them (DDP's reverse layer order): the
 * head first, small, so its all-reduce starts at once; then layer4 (72% of ResNet18's parameters), layer3 and
 * layer2; layer1 and the stem last and together (160 K values), so that the all-reduce still to run when the
 * backward pass ends is a small one.
 */
const BUCKET_STAGES: ReadonlyArray<readonly ForwardStage[]> = [
  ['head'],
  ['layer4'],
  ['layer3'],
  ['layer2'],
  ['layer1', 'stem']
];

export interface StepResult {
  readonly step: number;
  readonly lr: number;
  /** Global L2 norm of the averaged gradient before clipping. */
  readonly gradNorm: number;
}

const CHECKPOINT_FORMAT = 'ringtrain-checkpoint/1';

/**
 * The training step the worker calls: `computeGradients` on its shard of the batch, an all-reduce that
 * averages the flat gradients across ranks, then `applyGradients` with the average on every rank.
 *
 * Batch-norm running statistics are updated locally from each rank's own micro-batches, as PyTorch DDP
 * does without SyncBatchNorm; they are the only state that differs between ranks. Checkpoints come from
 * one rank (rank 0) and carry its statistics.
 */
export class Trainer {
  readonly config: TrainingConfig;
  /** The trainer's RNG (checkpointed), for in-process augmentation planning and re-initialisation. */
  random: SeededRandom;
  private stepCount = 0;
  private epochCount = 0;
  /** On tensorflow, weights and optimizer state stay on the device; only gradients cross into JavaScript. */
  private readonly optimizer: DeviceOptimizer;

  private constructor(
    readonly model: ResNet18,
    config: TrainingConfig
  ) {
    if (model.numClasses !== config.numClasses) {
      throw new Error(`model has ${model.numClasses} classes, training configuration says ${config.numClasses}`);
    }
    this.config = config;
    this.random = SeededRandom.fromSeed(config.seed);
    this.optimizer = new DeviceOptimizer(config.optimizer);
  }

  /** A trainer over `model` (pretrained or fresh); the model is owned by the trainer from here on. */
  static create(config: TrainingConfigInput, model?: ResNet18): Trainer {
    const parsed = parseTrainingConfig(config);
    return new Trainer(model ?? ResNet18.create({ numClasses: parsed.numClasses, seed: parsed.seed }), parsed);
  }

  get step(): number {
    return this.stepCount;
  }

  get epoch(): number {
    return this.epochCount;
  }

  /** The worker reports epoch boundaries; they decide when a frozen backbone is unfrozen. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
    this.epochCount = epoch;
  }

  /** True while only the head trains. */
  get backboneFrozen(): boolean {
    const { freezeBackbone, unfreezeAfterEpochs } = this.config;
    return freezeBackbone && (unfreezeAfterEpochs === undefined || this.epochCount < unfreezeAfterEpochs);
  }

  /**
   * Where each trainable parameter sits in the flat gradient: state-dict order, Ringtrain layout. It
   * changes only when the backbone is unfrozen, at an epoch boundary, identically on every rank.
   */
  gradientLayout(): LayoutEntry[] {
    let offset = 0;
    return this.model.trainable(this.backboneFrozen).map((spec) => {
      const length = elementCount(spec.shape);
      const entry = { name: spec.name, shape: spec.shape, offset, length };
      offset += length;
      return entry;
    });
  }

  /**
   * The buckets `computeGradientsStaged` hands over, in order: a pure function of the model and the freeze
   * settings, so every rank reduces the same buckets in the same order. Together they cover the flat layout
   * exactly once; with a frozen backbone there is one, the head.
   */
  gradientBuckets(): GradientBucket[] {
    const layout = this.gradientLayout();
    const buckets: GradientBucket[] = [];
    for (const stages of BUCKET_STAGES) {
      const entries = layout.filter((entry) => stages.includes(forwardStageOf(entry.name)));
      if (entries.length === 0) continue;
      const offset = entries[0]!.offset;
      const length = entries.reduce((sum, entry) => sum + entry.length, 0);
      const last = entries.at(-1)!;
      if (last.offset + last.length - offset !== length) {
        throw new Error(`the parameters of ${stages.join(' and ')} are not contiguous in the gradient layout`);
      }
      buckets.push({ index: buckets.length, offset, length, stages });
    }
    return buckets;
  }

  computeGradients(batch: TrainingBatch): GradientResult {
    const { count, images, labels } = batch;
    const size = this.config.imageSize;
    const pixels = size * size * 3;
    this.checkBatch(batch);
    const frozen = this.backboneFrozen;
    const variables = this.gradientLayout().map((entry) => this.model.variable(entry.name));
    const micro = this.config.microBatchSize ?? count;
    // Sums stay on the device across micro-batches: one read of the flat gradient at the end.
    let flatSum: tf.Tensor1D | undefined;
    let lossSum: tf.Scalar | undefined;
    let correctSum: tf.Scalar | undefined;
    for (let start = 0; start < count; start += micro) {
      const n = Math.min(micro, count - start);
      const weight = n / count;
      let correct: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const x = tf.tensor4d(images.subarray(start * pixels, (start + n) * pixels), [n, size, size, 3]);
        const y = tf.tensor1d(labels.subarray(start, start + n), 'int32');
        const logits = this.model.forward(x, {
          training: true,
          batchNormInference: frozen && this.config.freezeBatchNorm
        });
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
        return crossEntropy(logits, y, this.config.numClasses, this.config.labelSmoothing);
      }, variables);
      const [nextFlat, nextLoss, nextCorrect] = tf.tidy(() => {
        const flat = tf.concat(variables.map((variable) => tf.reshape(grads[variable.name]!, [-1]))) as tf.Tensor1D;
        const scaled = weight === 1 ? flat : tf.mul(flat, weight);
        const weightedLoss = tf.mul(value, weight);
        return [
          flatSum === undefined ? scaled : tf.add(flatSum, scaled),
          lossSum === undefined ? weightedLoss : tf.add(lossSum, weightedLoss),
          correctSum === undefined ? correct! : tf.add(correctSum, correct!)
        ] as [tf.Tensor1D, tf.Scalar, tf.Scalar];
      });
      tf.dispose(
        [value, correct!, ...Object.values(grads), flatSum, lossSum, correctSum].filter(
          (t) => t !== undefined && t !== nextCorrect
        )
      );
      [flatSum, lossSum, correctSum] = [nextFlat, nextLoss, nextCorrect];
    }
    // Read outside tf.tidy: tidy walks a returned typed array element by element looking for tensors.
    const gradients = flatSum!.dataSync() as Float32Array;
    const loss = lossSum!.dataSync()[0]!;
    const correct = correctSum!.dataSync()[0]!;
    tf.dispose([flatSum!, lossSum!, correctSum!]);
    return { loss, correct, count, gradients };
  }

  /**
   * `computeGradients`, with the backward pass run stage by stage (`gradientBuckets()` order) and each bucket
   * handed to `onBucket` as soon as its gradients are final, so that its all-reduce can run while the rest of the
   * backward pass computes (DDP's overlap). The forward pass runs once, recording each stage on its own gradient
   * tape; each stage's backward starts from the upstream gradient of the stage after it. Batch-norm running
   * statistics are updated by the forward pass, exactly as in `computeGradients`, and the gradients are the same
   * bits `computeGradients` returns.
   *
   * With micro-batches, the buckets are handed over during the last micro-batch's backward pass, once each holds
   * the sum over all micro-batches. `onBucket` is called synchronously; the event loop gets a turn after each
   * call (so a collective on the main thread makes progress between stages), and the returned promise settles
   * only once every promise `onBucket` returned has: a bucket reduced in place in its `values` view is reduced
   * in the result's `gradients`.
   *
   * `options.into` is where the flat gradient goes (and what the result's `gradients` is): a caller that reuses one
   * buffer every step saves the cost of touching fresh memory (about a tenth of a 64 px step here), and one over a
   * SharedArrayBuffer lets a collective on another thread reduce the buckets where they lie.
   */
  async computeGradientsStaged(
    batch: TrainingBatch,
    onBucket: (bucket: ReadyGradientBucket) => void | Promise<void>,
    options: { readonly into?: Float32Array } = {}
  ): Promise<GradientResult> {
    const { count, images, labels } = batch;
    const size = this.config.imageSize;
    const pixels = size * size * 3;
    this.checkBatch(batch);
    const frozen = this.backboneFrozen;
    const forward = { training: true, batchNormInference: frozen && this.config.freezeBatchNorm };
    const layout = this.gradientLayout();
    const buckets = this.gradientBuckets();
    const total = layout.reduce((sum, entry) => sum + entry.length, 0);
    if (options.into !== undefined && options.into.length !== total) {
      throw new Error(`options.into holds ${options.into.length} values, the gradient layout ${total}`);
    }
    const gradients = options.into ?? new Float32Array(total);
    const micro = this.config.microBatchSize ?? count;
    const pending: Array<Promise<void>> = [];
    // Per-parameter sums stay on the device across micro-batches, each read once, straight into its place in the
    // flat vector: concatenating a bucket on the device first would add a copy of it (measured: ~10% of a step).
    const sums = new Map<string, tf.Tensor>();
    let lossSum: tf.Scalar | undefined;
    let correctSum: tf.Scalar | undefined;
    const tapes: RecordedTape[] = [];
    const live: tf.Tensor[] = [];
    try {
      for (let start = 0; start < count; start += micro) {
        const n = Math.min(micro, count - start);
        const weight = n / count;
        const last = start + n >= count;
        const x = tf.tensor4d(images.subarray(start * pixels, (start + n) * pixels), [n, size, size, 3]);
        const y = tf.tensor1d(labels.subarray(start, start + n), 'int32');
        live.push(x, y);
        // Forward: each trained stage on its own tape, keeping the boundary activations. A frozen backbone is
        // not recorded at all: only the head is differentiated.
        const inputs = new Map<ForwardStage, tf.Tensor>();
        const stageTapes = new Map<ForwardStage, RecordedTape>();
        let activation: tf.Tensor = x;
        for (const stage of FORWARD_STAGES.slice(0, -1)) {
          inputs.set(stage, activation);
          if (frozen) {
            activation = this.model.forwardStage(stage, activation, forward);
          } else {
            const { result, tape } = recordTape(() => this.model.forwardStage(stage, activation, forward));
            tapes.push(tape);
            stageTapes.set(stage, tape);
            activation = result;
          }
          live.push(activation);
        }
        inputs.set('head', activation);
        const { result: head, tape: headTape } = recordTape(() => {
          const logits = this.model.forwardStage('head', activation, forward) as tf.Tensor2D;
          return { logits, loss: crossEntropy(logits, y, this.config.numClasses, this.config.labelSmoothing) };
        });
        tapes.push(headTape);
        stageTapes.set('head', headTape);
        live.push(head.logits, head.loss);
        const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(head.logits, 1), y), 'int32')) as tf.Scalar);
        const [nextLoss, nextCorrect] = tf.tidy(() => {
          const weightedLoss = tf.mul(head.loss, weight) as tf.Scalar;
          return [
            lossSum === undefined ? weightedLoss : tf.add(lossSum, weightedLoss),
            correctSum === undefined ? correct : tf.add(correctSum, correct)
          ] as [tf.Scalar, tf.Scalar];
        });
        tf.dispose([correct, lossSum, correctSum].filter(isTensor).filter((t) => t !== nextCorrect));
        [lossSum, correctSum] = [nextLoss, nextCorrect];

        // Backward, stage by stage from the loss, each with the gradient of its output from the stage after it.
        let upstream: tf.Tensor = tf.onesLike(head.loss);
        let output: tf.Tensor = head.loss;
        try {
          for (const bucket of buckets) {
            const parameterGradients = new Map<string, tf.Tensor>();
            for (const stage of bucket.stages) {
              const tape = stageTapes.get(stage)!;
              const names = layout.filter((entry) => forwardStageOf(entry.name) === stage).map((entry) => entry.name);
              const stageInput = inputs.get(stage)!;
              // The images need no gradient, and neither does a frozen backbone's output.
              const wantInput = stage !== 'stem' && !frozen;
              const xs = [...(wantInput ? [stageInput] : []), ...names.map((name) => this.model.variable(name))];
              const grads = tape.backward(output, upstream, xs);
              tape.dispose();
              upstream.dispose();
              names.forEach((name, i) => parameterGradients.set(name, grads[i + (wantInput ? 1 : 0)]!));
              upstream = wantInput ? grads[0]! : tf.scalar(0);
              output = stageInput;
            }
            const entries = layout.filter((entry) => parameterGradients.has(entry.name));
            for (const entry of entries) {
              const gradient = parameterGradients.get(entry.name)!;
              const previous = sums.get(entry.name);
              sums.set(
                entry.name,
                tf.tidy(() => {
                  const scaled = weight === 1 ? gradient : tf.mul(gradient, weight);
                  return previous === undefined ? scaled : tf.add(previous, scaled);
                })
              );
              if (sums.get(entry.name) !== gradient) gradient.dispose();
              previous?.dispose();
            }
            if (!last) continue;
            for (const entry of entries) {
              const sum = sums.get(entry.name)!;
              gradients.set(sum.dataSync() as Float32Array, entry.offset);
              sum.dispose();
              sums.delete(entry.name);
            }
            const values = gradients.subarray(bucket.offset, bucket.offset + bucket.length);
            const handed = onBucket({ ...bucket, values });
            if (handed !== undefined) {
              // Observed now, reported at the end: a rejection must not go unhandled while the backward runs on.
              handed.catch(() => undefined);
              pending.push(handed);
            }
            // A turn of the event loop: a collective on this thread sends the bucket while the next stage waits.
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } finally {
          upstream.dispose();
        }
        tf.dispose(live.splice(0));
      }
      const loss = lossSum!.dataSync()[0]!;
      const correct = correctSum!.dataSync()[0]!;
      await Promise.all(pending);
      return { loss, correct, count, gradients };
    } catch (error) {
      // Whatever the callbacks started must settle (and not reject unobserved) before the caller hears of this.
      await Promise.allSettled(pending);
      throw error;
    } finally {
      for (const tape of tapes) tape.dispose();
      tf.dispose([...live, ...sums.values(), lossSum, correctSum].filter(isTensor));
    }
  }

  private checkBatch(batch: TrainingBatch): void {
    const { count, images, labels } = batch;
    const size = this.config.imageSize;
    const pixels = size * size * 3;
    if (!Number.isInteger(count) || count < 1) throw new Error(`batch count must be a positive integer, got ${count}`);
    if (images.length !== count * pixels) {
      throw new Error(
        `batch images hold ${images.length} values; ${count} images of ${size}×${size}×3 need ${count * pixels}`
      );
    }
    if (labels.length !== count) throw new Error(`batch has ${labels.length} labels for ${count} images`);
    for (const label of labels) {
      if (label < 0 || label >= this.config.numClasses) {
        throw new Error(`label ${label} is outside [0, ${this.config.numClasses})`);
      }
    }
  }

  /** One optimizer step with the rank-averaged gradient (layout of `gradientLayout()`). */
  applyGradients(gradients: Float32Array): StepResult {
    const layout = this.gradientLayout();
    const expected = layout.reduce((sum, entry) => sum + entry.length, 0);
    if (gradients.length !== expected) {
      throw new Error(
        `gradient vector has ${gradients.length} values, the current layout needs ${expected}` +
          ` (${this.backboneFrozen ? 'backbone frozen: head only' : 'all parameters'})`
      );
    }
    const gradNorm = l2Norm(gradients);
    // Refuse before touching any weight, so a diverged step leaves the model as it was.
    if (!Number.isFinite(gradNorm))
      throw new Error(`gradient norm is ${gradNorm}; refusing to step (lower the learning rate?)`);
    const clip = this.config.clipGradNorm;
    const lr = learningRate(this.config, this.stepCount);
    const parameters = layout.map((entry) => ({ name: entry.name, variable: this.model.variable(entry.name) }));
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6).
    const scale = clip !== undefined && gradNorm > clip ? clip / (gradNorm + 1e-6) : 1;
    this.optimizer.step(lr, parameters, gradients, scale);
    this.stepCount += 1;
    return { step: this.stepCount, lr, gradNorm };
  }

  /**
   * Everything needed to continue exactly: weights and running statistics, optimizer state, step, epoch,
   * RNG state and the configuration, as safetensors (tensors in Ringtrain layout). `extra` carries the
   * caller's own state (e.g. the data cursor) and comes back from `fromCheckpoint`.
   */
  saveCheckpoint(extra: Readonly<Record<string, string>> = {}): Uint8Array {
    const tensors: Array<[string, RawTensor]> = [];
    const steps: Record<string, number> = {};
    const optimizerState = this.optimizer.snapshot();
    for (const spec of this.model.spec) {
      tensors.push([
        `model.${spec.name}`,
        { dtype: 'F32', shape: spec.shape, data: float32Bytes(this.model.read(spec.name)) }
      ]);
      if (!spec.parameter) continue;
      const state = optimizerState.get(spec.name);
      steps[spec.name] = state?.steps ?? 0;
      if (state?.first !== undefined)
        tensors.push([
          `optimizer.first.${spec.name}`,
          { dtype: 'F32', shape: spec.shape, data: float32Bytes(state.first) }
        ]);
      if (state?.second !== undefined)
        tensors.push([
          `optimizer.second.${spec.name}`,
          { dtype: 'F32', shape: spec.shape, data: float32Bytes(state.second) }
        ]);
    }
    return encodeSafetensors(tensors, {
      format: CHECKPOINT_FORMAT,
      config: JSON.stringify(this.config),
      step: String(this.stepCount),
      epoch: String(this.epochCount),
      random: JSON.stringify(this.random.state()),
      parameterSteps: JSON.stringify(steps),
      extra: JSON.stringify(extra)
    });
  }

  static fromCheckpoint(bytes: Uint8Array): { trainer: Trainer; extra: Record<string, string> } {
    const { tensors, metadata } = decodeSafetensors(bytes);
    if (metadata.format !== CHECKPOINT_FORMAT) {
      throw new Error(
        `not a Ringtrain checkpoint (format ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT})`
      );
    }
    const config = parseTrainingConfig(JSON.parse(metadata.config ?? '{}') as TrainingConfigInput);
    const values = new Map<string, Float32Array>();
    for (const [key, tensor] of tensors) if (key.startsWith('model.')) values.set(key.slice(6), toFloat32(key, tensor));
    const trainer = new Trainer(ResNet18.fromValues(config.numClasses, values), config);
    trainer.stepCount = Number(metadata.step);
    trainer.epochCount = Number(metadata.epoch);
    trainer.random = SeededRandom.fromState(JSON.parse(metadata.random ?? '[]') as number[]);
    const steps = JSON.parse(metadata.parameterSteps ?? '{}') as Record<string, number>;
    for (const spec of trainer.model.spec) {
      if (!spec.parameter) continue;
      const first = tensors.get(`optimizer.first.${spec.name}`);
      const second = tensors.get(`optimizer.second.${spec.name}`);
      trainer.optimizer.restore(spec.name, {
        steps: steps[spec.name] ?? 0,
        ...(first !== undefined ? { first: toFloat32(spec.name, first) } : {}),
        ...(second !== undefined ? { second: toFloat32(spec.name, second) } : {})
      });
    }
    return { trainer, extra: JSON.parse(metadata.extra ?? '{}') as Record<string, string> };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

function isTensor(value: tf.Tensor | undefined): value is tf.Tensor {
  return value !== undefined;
}

/**
 * The gradient's L2 norm, summed in JavaScript in one fixed order so that every rank computes the same bits
 * (a backend's parallel reduction may split the sum differently on a node with other cores). Four partial sums
 * break the chain of dependent additions: twice as fast as one accumulator over 11.7 M values.
 */
function l2Norm(values: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = values.length;
  const end = n - (n % 4);
  for (let i = 0; i < end; i += 4) {
    const a = values[i]!;
    const b = values[i + 1]!;
    const c = values[i + 2]!;
    const d = values[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (let i = end; i < n; i++) s0 += values[i]! * values[i]!;
  return Math.sqrt(s0 + s1 + s2 + s3);
}

/** torch.nn.CrossEntropyLoss(label_smoothing=ε): mean over the batch of −Σ_k q_k·log p_k. */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number, smoothing: number): tf.Scalar {
  const logProbabilities = tf.logSoftmax(logits);
  const target = tf.add(tf.mul(tf.oneHot(labels, numClasses), 1 - smoothing), smoothing / numClasses);
  return tf.neg(tf.mean(tf.sum(tf.mul(target, logProbabilities), 1)));
}
