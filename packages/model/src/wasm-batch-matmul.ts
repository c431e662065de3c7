import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * tfjs-backend-wasm's BatchMatMul is ~10× slower with `transposeA`/`transposeB` than without (measured
 * 34–66 ms against 3–9 ms for the classifier's [64,512]×[512,1000] gradients), and a dense layer's gradient
 * always asks for one of them. Transposing the operand with the Transpose kernel first and multiplying
 * plainly gives the same result at the fast path's speed.
 */
export function batchMatMulWithExplicitTranspose(originalConfig: KernelConfig): KernelConfig {
  const original = originalConfig.kernelFunc;
  const kernelFunc = (args: { inputs: NamedTensorInfoMap; backend: object; attrs?: NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const attrs = args.attrs ?? {};
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (attrs.transposeA !== true && attrs.transposeB !== true) return original(args) as TensorInfo;
    const transposeKernel = tf.getKernel(tf.Transpose, 'wasm');
    if (transposeKernel === undefined) throw new Error('wasm backend lacks the Transpose kernel');
    const lastTwo = (info: TensorInfo): TensorInfo => {
      const rank = info.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      return transposeKernel.kernelFunc({ inputs: { x: info }, backend, attrs: { perm } }) as TensorInfo;
    };
    const left = attrs.transposeA === true ? lastTwo(a) : a;
    const right = attrs.transposeB === true ? lastTwo(b) : b;
    try {
      return original({
        ...args,
        inputs: { ...args.inputs, a: left, b: right },
        attrs: { ...attrs, transposeA: false, transposeB: false }
      }) as TensorInfo;
    } finally {
      if (left !== a) backend.disposeData(left.dataId);
      if (right !== b) backend.disposeData(right.dataId);
    }
  };
  // Keep the original's setup (it binds the wasm function) and run it as before for untransposed operands.
  return { ...originalConfig, kernelFunc: kernelFunc as KernelFunc };
}
