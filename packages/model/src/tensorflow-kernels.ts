import * as tf from '@tensorflow/tfjs-core';

/** What tfjs-node's backend offers beyond tfjs-core's kernels: any TensorFlow op, by name. */
export interface TensorflowBackend {
  readonly binding: {
    readonly TF_ATTR_STRING: number;
    readonly TF_ATTR_TYPE: number;
    readonly TF_ATTR_SHAPE: number;
    readonly TF_ATTR_BOOL: number;
    readonly TF_ATTR_FLOAT: number;
    readonly TF_FLOAT: number;
  };
  executeSingleOutput(name: string, attrs: readonly OpAttr[], inputs: readonly tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: readonly OpAttr[],
    inputs: readonly tf.Tensor[],
    outputs: number
  ): tf.Tensor[];
}

export interface OpAttr {
  readonly name: string;
  readonly type: number;
  readonly value: unknown;
}

/** The active backend as TensorFlow's, when it is (`tensorflow`), else undefined. */
export function tensorflowBackend(): TensorflowBackend | undefined {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as TensorflowBackend) : undefined;
}

export interface FusedBatchNormOptions {
  readonly epsilon: number;
  /** The new batch's weight in the running statistics (torch's momentum). */
  readonly momentum: number;
}

/**
 * ReLU whose gradient is TensorFlow's ReluGrad kernel. tfjs-core differentiates relu as dy·step(x), and on
 * this backend `step` alone is four kernels (IsNan, Greater, Fill, Select): 17 ReLUs made a fifth of a
 * ResNet18 backward pass.
 */
export function fusedRelu(backend: TensorflowBackend, x: tf.Tensor4D): tf.Tensor4D {
  const T = { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
  const relu = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as unknown as [tf.Tensor4D, tf.GradSaveFunc];
    const value = backend.executeSingleOutput('Relu', [T], [input]);
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backend.executeSingleOutput('ReluGrad', [T], [dy, saved[0]!])
    };
  });
  return relu(x) as tf.Tensor4D;
}

/**
 * Training-mode batch norm over NHWC as one TensorFlow kernel each way (FusedBatchNormV3 and its gradient),
 * where the composed version is about fifteen. The kernel also updates the running statistics as torch does:
 * (1 − momentum)·running + momentum·batch, with the unbiased batch variance; they are returned for the
 * caller to store.
 */
export function fusedBatchNormTraining(
  backend: TensorflowBackend,
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  running: { readonly mean: tf.Tensor1D; readonly variance: tf.Tensor1D },
  options: FusedBatchNormOptions
): { readonly y: tf.Tensor4D; readonly mean: tf.Tensor1D; readonly variance: tf.Tensor1D } {
  const { binding } = backend;
  const type = (name: string): OpAttr => ({ name, type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT });
  const attrs = (training: boolean): OpAttr[] => [
    type('T'),
    type('U'),
    { name: 'epsilon', type: binding.TF_ATTR_FLOAT, value: options.epsilon },
    { name: 'data_format', type: binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: binding.TF_ATTR_BOOL, value: training },
    ...(training ? [{ name: 'exponential_avg_factor', type: binding.TF_ATTR_FLOAT, value: options.momentum }] : [])
  ];
  let updated: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const norm = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, scale, offset, save] = args as unknown as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [y, mean, variance, reserve1, reserve2, reserve3] = backend.executeMultipleOutputs(
      'FusedBatchNormV3',
      attrs(true),
      [input, scale, offset, running.mean, running.variance],
      6
    ) as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor, tf.Tensor, tf.Tensor];
    updated = [tf.keep(mean), tf.keep(variance)];
    save([input, scale, reserve1, reserve2, reserve3]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dx, dScale, dOffset] = backend.executeMultipleOutputs(
          'FusedBatchNormGradV3',
          attrs(true).slice(0, 5),
          [dy, ...saved],
          5
        );
        return [dx!, dScale!, dOffset!];
      }
    };
  });
  const y = norm(x, gamma, beta) as tf.Tensor4D;
  const [mean, variance] = updated!;
  return { y, mean, variance };
}
