import * as tf from '@tensorflow/tfjs-core';
import type { ResNet18 } from '@ringtrain/model';

/** Summed loss and correct count of one batch with batch norm in inference mode (PyTorch's `model.eval()`). */
export function evaluateBatch(
  model: ResNet18,
  images: Float32Array,
  labels: Int32Array,
  count: number,
  imageSize: number,
): { lossSum: number; correct: number } {
  if (count === 0) return { lossSum: 0, correct: 0 };
  const [lossSum, correct] = tf.tidy(() => {
    const x = tf.tensor4d(images, [count, imageSize, imageSize, 3]);
    const y = tf.tensor1d(labels, 'int32');
    const logits = model.forward(x, { training: false });
    const loss = tf.neg(tf.sum(tf.mul(tf.oneHot(y, model.numClasses), tf.logSoftmax(logits))));
    const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'));
    return [loss.dataSync()[0]!, hits.dataSync()[0]!];
  });
  return { lossSum, correct };
}
