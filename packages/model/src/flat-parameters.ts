import * as tf from '@tensorflow/tfjs-core';

/** One trainable tensor as the optimizer sees it: its variable, flattened in the order of the gradient. */
export interface FlatParameter {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** Writes a flat update back into the parameters' own variables (the model's forward pass reads those). */
export function assignFlat(parameters: readonly FlatParameter[], flat: tf.Tensor1D): void {
  const pieces =
    parameters.length === 1
      ? [flat]
      : tf.split(
          flat,
          parameters.map(({ variable }) => variable.size)
        );
  parameters.forEach(({ variable }, i) => {
    tf.tidy(() => variable.assign(tf.reshape(pieces[i]!, variable.shape)));
  });
  if (pieces.length > 1) tf.dispose(pieces);
}
