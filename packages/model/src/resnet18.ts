import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from './random.js';
import { fusedBatchNormTraining, fusedRelu, tensorflowBackend } from './tensorflow-kernels.js';
import { BLOCKS_PER_STAGE, FORWARD_STAGES, elementCount, hasDownsample, resnet18Spec } from './resnet18-spec.js';
import type { ForwardStage, TensorSpec } from './resnet18-spec.js';

/** torchvision's BatchNorm2d defaults: eps 1e-5, momentum 0.1 (the new batch's weight, i.e. decay 0.9). */
export const BN_EPSILON = 1e-5;
export const BN_MOMENTUM = 0.1;

export interface ForwardOptions {
  /** Batch statistics and running-stat updates in batch norm (PyTorch's `model.train()`). */
  readonly training: boolean;
  /** Batch norm in inference mode even when training (a frozen backbone with `freezeBatchNorm`). */
  readonly batchNormInference?: boolean;
}

/**
 * torchvision's resnet18 with NHWC activations and HWIO filters. Tensors are keyed by their state-dict
 * names; parameters and running statistics live in tf.Variables, `num_batches_tracked` in plain numbers.
 */
export class ResNet18 {
  readonly spec: readonly TensorSpec[];
  private readonly variables = new Map<string, tf.Variable>();
  private readonly batchesTracked = new Map<string, number>();

  private constructor(
    readonly numClasses: number,
    values: ReadonlyMap<string, Float32Array>
  ) {
    this.spec = resnet18Spec(numClasses);
    for (const spec of this.spec) {
      const value = values.get(spec.name);
      if (value === undefined) throw new Error(`ResNet18: no value given for ${spec.name}`);
      if (spec.kind === 'bn-num-batches') {
        this.batchesTracked.set(spec.name, value[0] ?? 0);
      } else {
        // Anonymous variables: names would collide between two models in one process. The initial tensor
        // is released once the variable holds a reference to its data.
        const initial = tf.tensor(value, [...spec.shape]);
        this.variables.set(spec.name, tf.variable(initial, spec.parameter));
        initial.dispose();
      }
    }
  }

  /** A freshly initialised model exactly as torchvision initialises it (not bit-for-bit: a different RNG). */
  static create(options: { readonly numClasses: number; readonly seed?: number }): ResNet18 {
    const random = SeededRandom.fromSeed(options.seed ?? 0);
    const values = new Map<string, Float32Array>();
    for (const spec of resnet18Spec(options.numClasses)) values.set(spec.name, initialValue(spec, random));
    return new ResNet18(options.numClasses, values);
  }

  /** A model from Ringtrain-layout values (HWIO, [in,out]) for every tensor of the spec. */
  static fromValues(numClasses: number, values: ReadonlyMap<string, Float32Array>): ResNet18 {
    return new ResNet18(numClasses, values);
  }

  /** The live variable behind a parameter or running statistic. */
  variable(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (variable === undefined) throw new Error(`ResNet18 has no tensor named ${name}`);
    return variable;
  }

  /** A copy of any tensor's values in Ringtrain layout (including num_batches_tracked as one number). */
  read(name: string): Float32Array {
    const tracked = this.batchesTracked.get(name);
    if (tracked !== undefined) return Float32Array.of(tracked);
    // A copy: the cpu backend's dataSync returns its live storage, which the caller must not alias.
    return Float32Array.from(this.variable(name).dataSync() as Float32Array);
  }

  /**
   * Overwrites one tensor in place (same shape). For a model a Trainer has stepped, write buffers (running
   * statistics) only: its optimizer keeps the parameters' master copy, which its next step writes over them.
   */
  write(name: string, value: Float32Array): void {
    if (this.batchesTracked.has(name)) {
      this.batchesTracked.set(name, value[0] ?? 0);
      return;
    }
    const variable = this.variable(name);
    if (value.length !== variable.size) {
      throw new Error(`${name}: expected ${variable.size} values, got ${value.length}`);
    }
    tf.tidy(() => variable.assign(tf.tensor(value, variable.shape)));
  }

  /** The tensors trained in this configuration, in state-dict order. */
  trainable(frozenBackbone: boolean): TensorSpec[] {
    return this.spec.filter((spec) => spec.parameter && (!frozenBackbone || spec.head));
  }

  /** Learnable parameter count (11,689,512 for 1,000 classes, as torchvision reports). */
  parameterCount(): number {
    return this.spec.filter((spec) => spec.parameter).reduce((sum, spec) => sum + elementCount(spec.shape), 0);
  }

  /** Logits [N, numClasses] for images [N, H, W, 3], already normalised. */
  forward(images: tf.Tensor4D, options: ForwardOptions): tf.Tensor2D {
    return tf.tidy(() => {
      let x: tf.Tensor = images;
      for (const stage of FORWARD_STAGES) x = this.forwardStage(stage, x, options);
      return x as tf.Tensor2D;
    });
  }

  /**
   * One stage of `forward` (see `FORWARD_STAGES`): the stem takes the images, each later stage the previous one's
   * output, and the head returns the logits. The staged backward records each stage on its own gradient tape.
   */
  forwardStage(stage: ForwardStage, input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const updateStats = options.training && options.batchNormInference !== true;
    return tf.tidy(() => {
      const x = input as tf.Tensor4D;
      if (stage === 'stem') return this.maxPool(relu(this.batchNorm('bn1', this.conv('conv1', x, 2, 3), updateStats)));
      if (stage === 'head') {
        const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
        return tf.add(tf.matMul(pooled, this.variable('fc.weight')), this.variable('fc.bias'));
      }
      const index = Number(stage.slice('layer'.length)) - 1;
      let out = x;
      for (let block = 0; block < BLOCKS_PER_STAGE; block++) {
        out = this.basicBlock(`${stage}.${block}`, out, index, block, updateStats);
      }
      return out;
    });
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.variables.clear();
  }

  private basicBlock(prefix: string, input: tf.Tensor4D, stage: number, block: number, training: boolean): tf.Tensor4D {
    const stride = hasDownsample(stage, block) ? 2 : 1;
    let out = this.conv(`${prefix}.conv1`, input, stride, 1);
    out = relu(this.batchNorm(`${prefix}.bn1`, out, training));
    out = this.batchNorm(`${prefix}.bn2`, this.conv(`${prefix}.conv2`, out, 1, 1), training);
    const identity = hasDownsample(stage, block)
      ? this.batchNorm(`${prefix}.downsample.1`, this.conv(`${prefix}.downsample.0`, input, stride, 0), training)
      : input;
    return relu(tf.add(out, identity));
  }

  /**
   * torchvision's convolution: symmetric zero padding (3 for the 7×7/2 stem, 1 for the 3×3 convolutions).
   * TensorFlow's kernels take only 'valid' and 'same', and 'same' pads more at the bottom and right at stride 2,
   * so there the padding is its own op; at stride 1 'same' is exactly the symmetric padding.
   */
  private conv(name: string, x: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
    const filter = this.variable(`${name}.weight`) as tf.Tensor4D;
    if (pad === 0) return tf.conv2d(x, filter, stride, 'valid');
    if (acceptsExplicitPadding()) return tf.conv2d(x, filter, stride, symmetricPadding(pad));
    if (stride === 1 && filter.shape[0] === 2 * pad + 1) return tf.conv2d(x, filter, 1, 'same');
    return tf.conv2d(tf.pad(x, symmetricPadding(pad)), filter, stride, 'valid');
  }

  /** The stem's 3×3/2 max-pool with padding 1. It follows a ReLU, so zero padding gives torchvision's result. */
  private maxPool(x: tf.Tensor4D): tf.Tensor4D {
    if (acceptsExplicitPadding()) return tf.maxPool(x, 3, 2, 1, 'floor');
    return tf.maxPool(tf.pad(x, symmetricPadding(1)), 3, 2, 'valid');
  }

  private batchNorm(prefix: string, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const gamma = this.variable(`${prefix}.weight`);
    const beta = this.variable(`${prefix}.bias`);
    const runningMean = this.variable(`${prefix}.running_mean`);
    const runningVar = this.variable(`${prefix}.running_var`);
    if (!training) {
      const scale = tf.mul(tf.rsqrt(tf.add(runningVar, BN_EPSILON)), gamma);
      return tf.add(tf.mul(tf.sub(x, runningMean), scale), beta) as tf.Tensor4D;
    }
    const tracked = `${prefix}.num_batches_tracked`;
    this.batchesTracked.set(tracked, (this.batchesTracked.get(tracked) ?? 0) + 1);
    const native = tensorflowBackend();
    if (native !== undefined) {
      const running = { mean: runningMean as tf.Tensor1D, variance: runningVar as tf.Tensor1D };
      const options = { epsilon: BN_EPSILON, momentum: BN_MOMENTUM };
      const { y, mean, variance } = fusedBatchNormTraining(
        native,
        x,
        gamma as tf.Tensor1D,
        beta as tf.Tensor1D,
        running,
        options
      );
      runningMean.assign(mean);
      runningVar.assign(variance);
      tf.dispose([mean, variance]);
      return y;
    }
    const trainingNorm = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [input, weight, bias, save] = args as unknown as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
      const { mean, variance } = tf.moments(input, [0, 1, 2]);
      // PyTorch normalises with the biased variance but tracks the unbiased one.
      const count = input.size / input.shape[3];
      const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
      runningMean.assign(tf.add(tf.mul(runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      runningVar.assign(tf.add(tf.mul(runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
      const invStd = tf.rsqrt(tf.add(variance, BN_EPSILON));
      const normalized = tf.mul(tf.sub(input, mean), invStd);
      save([normalized, invStd, weight]);
      return {
        value: tf.add(tf.mul(normalized, weight), bias),
        // The closed-form batch-norm gradient: 2 reductions and 5 element-wise ops over the activation,
        // where differentiating moments() op by op takes about twice as many.
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xhat, inv, w] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
          const sumDy = tf.sum(dy, [0, 1, 2]);
          const sumDyXhat = tf.sum(tf.mul(dy, xhat), [0, 1, 2]);
          const centred = tf.sub(tf.sub(tf.mul(dy, count), sumDy), tf.mul(xhat, sumDyXhat));
          const dx = tf.mul(centred, tf.div(tf.mul(w, inv), count));
          return [dx, sumDyXhat, sumDy];
        }
      };
    });
    return trainingNorm(x, gamma, beta) as tf.Tensor4D;
  }
}

/** ReLU; on TensorFlow with its fused gradient kernel. */
function relu(x: tf.Tensor4D): tf.Tensor4D {
  const native = tensorflowBackend();
  return native === undefined ? tf.relu(x) : fusedRelu(native, x);
}

/** Whether the active backend's convolution and pooling kernels take numeric paddings (wasm and cpu do). */
function acceptsExplicitPadding(): boolean {
  return tf.getBackend() !== 'tensorflow';
}

function symmetricPadding(pad: number): Array<[number, number]> & tf.backend_util.ExplicitPadding {
  return [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0]
  ];
}

/** torchvision's init: kaiming_normal_(fan_out, relu) for convolutions, BN (1, 0), nn.Linear's uniform. */
function initialValue(spec: TensorSpec, random: SeededRandom): Float32Array {
  const values = new Float32Array(elementCount(spec.shape));
  switch (spec.kind) {
    case 'conv-weight': {
      const [out, , kh, kw] = spec.torchShape as [number, number, number, number];
      const std = Math.sqrt(2 / (out * kh * kw));
      for (let i = 0; i < values.length; i++) values[i] = random.normal() * std;
      return values;
    }
    case 'linear-weight':
    case 'linear-bias': {
      const bound = 1 / Math.sqrt(512);
      for (let i = 0; i < values.length; i++) values[i] = (random.uniform() * 2 - 1) * bound;
      return values;
    }
    case 'bn-weight':
    case 'bn-running-var':
      return values.fill(1);
    case 'bn-bias':
    case 'bn-running-mean':
    case 'bn-num-batches':
      return values;
  }
}
