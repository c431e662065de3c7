import * as tf from '@tensorflow/tfjs-core';
import type { ResNet18 } from './resnet18.js';

/** What one evaluated batch adds to a running total: sums and counts, so shares from many ranks add up exactly. */
export interface BatchEvaluation {
  /** Summed (not mean) cross-entropy over the batch. */
  readonly lossSum: number;
  /** Images whose arg-max logit is the label (top-1). */
  readonly correct: number;
  /** Images whose label is among the five largest logits (all of them, with five classes or fewer). */
  readonly top5Correct: number;
  /** numClasses × numClasses counts, row-major: row = true class, column = predicted class. */
  readonly confusion: Int32Array;
}

/**
 * Loss, hits and the confusion matrix of one batch with batch norm in inference mode (PyTorch's
 * `model.eval()`). `images` holds count × imageSize × imageSize × 3 normalised NHWC values.
 */
export function evaluateBatch(
  model: ResNet18,
  images: Float32Array,
  labels: Int32Array,
  count: number,
  imageSize: number
): BatchEvaluation {
  const confusion = new Int32Array(model.numClasses * model.numClasses);
  if (count === 0) return { lossSum: 0, correct: 0, top5Correct: 0, confusion };
  const k = Math.min(5, model.numClasses);
  const { lossSum, predicted, top5 } = tf.tidy(() => {
    const x = tf.tensor4d(images.subarray(0, count * imageSize * imageSize * 3), [count, imageSize, imageSize, 3]);
    const y = tf.tensor1d(labels.subarray(0, count), 'int32');
    const logits = model.forward(x, { training: false });
    const loss = tf.neg(tf.sum(tf.mul(tf.oneHot(y, model.numClasses), tf.logSoftmax(logits))));
    return {
      lossSum: loss.dataSync()[0]!,
      predicted: tf.argMax(logits, 1).dataSync() as Int32Array,
      top5: tf.topk(logits, k).indices.dataSync() as Int32Array
    };
  });
  let correct = 0;
  let top5Correct = 0;
  for (let index = 0; index < count; index++) {
    const truth = labels[index]!;
    const guess = predicted[index]!;
    if (truth === guess) correct++;
    if (top5.subarray(index * k, (index + 1) * k).includes(truth)) top5Correct++;
    confusion[truth * model.numClasses + guess]!++;
  }
  return { lossSum, correct, top5Correct, confusion };
}

/** Logits (inference mode) for a batch of normalised NHWC images, one row of numClasses per image. */
export function predictLogits(model: ResNet18, images: Float32Array, count: number, imageSize: number): Float32Array[] {
  if (count === 0) return [];
  const flat = tf.tidy(() => {
    const x = tf.tensor4d(images.subarray(0, count * imageSize * imageSize * 3), [count, imageSize, imageSize, 3]);
    return model.forward(x, { training: false }).dataSync() as Float32Array;
  });
  return Array.from({ length: count }, (_, row) =>
    Float32Array.from(flat.subarray(row * model.numClasses, (row + 1) * model.numClasses))
  );
}

/** Softmax of one row of logits, computed in float64 with the maximum subtracted (no overflow). */
export function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const exps = Float64Array.from(logits, (value) => Math.exp(value - max));
  const sum = exps.reduce((total, value) => total + value, 0);
  return exps.map((value) => value / sum);
}
