import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { batchMatMulWithExplicitTranspose } from './wasm-batch-matmul.js';

/**
 * Convolution gradients for the wasm backend, computed with its fast (XNNPACK) Conv2D. tfjs-backend-wasm
 * 4.22 has no Conv2DBackpropFilter at all (training fails) and a naive Conv2DBackpropInput that is 3–14×
 * slower than a convolution, so both are re-expressed as forward convolutions:
 *
 * - filter gradient: dW[kh,kw,ci,co] = Σ x[n, ho·s+kh−pt, wo·s+kw−pl, ci] · dy[n,ho,wo,co], i.e. a
 *   convolution of xᵀ [Ci,H,W,N] with dyᵀ [Ho,Wo,N,Co] as the filter, dilated by the forward stride;
 * - input gradient: a stride-1 convolution of dy with the filter rotated by 180° and its in/out channels
 *   swapped; for stride s, one such convolution per output phase with the matching taps (the classic
 *   "dilate dy by the stride" formulation without multiplying the inserted zeros).
 */

type Backend = BackendWasm;

const WASM = 'wasm';

function run(kernelName: string, backend: Backend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  const kernel = tf.getKernel(kernelName, WASM);
  if (kernel === undefined) throw new Error(`wasm backend lacks the ${kernelName} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

function release(backend: Backend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

interface ConvGeometry {
  readonly info: tf.backend_util.Conv2DInfo;
}

function geometry(attrs: NamedAttrMap, xShape: number[], filterShape: number[]): ConvGeometry {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (dataFormat === 'NCHW') throw new Error('wasm convolution gradients support NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast'
  );
  return { info };
}

function conv2DBackpropFilter(args: {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as Backend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs ?? {};
  const filterShape = attrs.filterShape as [number, number, number, number];
  const { info } = geometry(attrs, x.shape, filterShape);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const [, inHeight, inWidth] = x.shape as [number, number, number, number];
  // Pad the far side only as much as the last filter tap needs; extra output rows are sliced off below.
  const bottom = Math.max(0, kh + (info.outHeight - 1) * sh - inHeight - top);
  const right = Math.max(0, kw + (info.outWidth - 1) * sw - inWidth - left);

  const xT = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] });
  const dyT = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const conv = run(
    'Conv2D',
    backend,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0]
      ],
      dataFormat: 'NHWC',
      dilations: [sh, sw]
    }
  );
  release(backend, xT, dyT);
  let taps = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    taps = run('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [conv.shape[0]!, kh, kw, conv.shape[3]!] });
    release(backend, conv);
  }
  const dw = run('Transpose', backend, { x: taps }, { perm: [1, 2, 0, 3] });
  release(backend, taps);
  return dw;
}

function conv2DBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as Backend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs ?? {};
  const inputShape = attrs.inputShape as [number, number, number, number];
  const { info } = geometry(attrs, inputShape, filter.shape);
  const [batch, inHeight, inWidth, inChannels] = inputShape;
  const [, outHeight, outWidth, outChannels] = dy.shape as [number, number, number, number];
  const rows = phases(info.filterHeight, info.strideHeight, info.padInfo.top, inHeight, outHeight);
  const cols = phases(info.filterWidth, info.strideWidth, info.padInfo.left, inWidth, outWidth);
  // [kh,kw,ci,co] → [kh,kw,co,ci] once (memory-speed transpose); sub-filters are then whole-tap copies.
  const swapped = run('Transpose', backend, { x: filter }, { perm: [0, 1, 3, 2] });
  const strided = rows.length > 1 || cols.length > 1;
  let dx: TensorInfo | undefined;
  try {
    if (strided) {
      dx = backend.makeOutput([...inputShape], 'float32');
      (backend.typedArrayFromHeap(dx) as Float32Array).fill(0);
    }
    for (const row of rows) {
      for (const col of cols) {
        if (row.taps.length === 0 || col.taps.length === 0 || row.count <= 0 || col.count <= 0) continue;
        const part = phaseConvolution(backend, dy, swapped, row, col, filter.shape[3]!, inChannels);
        if (!strided) return part;
        // Interleave: phase output (i, j) is dx row (q0+i)·s + r − pad, column likewise.
        const src = backend.typedArrayFromHeap(part) as Float32Array;
        const dst = backend.typedArrayFromHeap(dx!) as Float32Array;
        for (let n = 0; n < batch; n++) {
          for (let i = 0; i < row.count; i++) {
            const h = row.first + i * info.strideHeight;
            for (let j = 0; j < col.count; j++) {
              const w = col.first + j * info.strideWidth;
              const from = ((n * row.count + i) * col.count + j) * inChannels;
              dst.set(src.subarray(from, from + inChannels), ((n * inHeight + h) * inWidth + w) * inChannels);
            }
          }
        }
        release(backend, part);
      }
    }
    if (!strided)
      throw new Error(`internal: no phase produced the input gradient (dy [${dy.shape}], ${outChannels} channels)`);
    return dx!;
  } finally {
    release(backend, swapped);
  }
}

/**
 * One output phase of a strided convolution's input gradient along one axis. Input positions h with
 * (h + pad) mod s = r receive dy[q − j]·w[r + j·s] for q = (h + pad − r)/s: a stride-1 convolution of dy with
 * the taps r, r+s, … in reverse order. Splitting by phase avoids convolving the s−1 zeros of a dilated dy
 * (4× the work for stride 2).
 */
interface Phase {
  /** Filter taps in convolution order (already reversed). */
  readonly taps: number[];
  /** Number of input positions in this phase, and the first one; the rest follow every `stride`. */
  readonly count: number;
  readonly first: number;
  /** Zero padding of dy before and after (negative: dy entries that reach no input position). */
  readonly before: number;
  readonly after: number;
}

function phases(kernel: number, stride: number, pad: number, inSize: number, outSize: number): Phase[] {
  const out: Phase[] = [];
  for (let r = 0; r < stride; r++) {
    const tapCount = r < kernel ? Math.ceil((kernel - r) / stride) : 0;
    const q0 = Math.ceil((pad - r) / stride);
    const q1 = Math.floor((inSize - 1 + pad - r) / stride);
    const count = q1 - q0 + 1;
    const before = tapCount - 1 - q0;
    out.push({
      taps: Array.from({ length: tapCount }, (_, m) => r + (tapCount - 1 - m) * stride),
      count,
      first: q0 * stride + r - pad,
      before,
      after: count - outSize - before + tapCount - 1
    });
  }
  return out;
}

function phaseConvolution(
  backend: Backend,
  dy: TensorInfo,
  swapped: TensorInfo,
  row: Phase,
  col: Phase,
  outChannels: number,
  inChannels: number
): TensorInfo {
  const [, kw] = swapped.shape as [number, number];
  const block = outChannels * inChannels;
  const filter = backend.makeOutput([row.taps.length, col.taps.length, outChannels, inChannels], 'float32');
  const src = backend.typedArrayFromHeap(swapped) as Float32Array;
  const dst = backend.typedArrayFromHeap(filter) as Float32Array;
  row.taps.forEach((th, mh) =>
    col.taps.forEach((tw, mw) => {
      const from = (th * kw + tw) * block;
      dst.set(src.subarray(from, from + block), (mh * col.taps.length + mw) * block);
    })
  );
  // Negative padding means dy rows/columns that no input position of this phase reads: crop them.
  let source = dy;
  const [n, height, width, channels] = dy.shape as [number, number, number, number];
  const cropTop = Math.max(0, -row.before);
  const cropLeft = Math.max(0, -col.before);
  const cropBottom = Math.max(0, -row.after);
  const cropRight = Math.max(0, -col.after);
  if (cropTop + cropLeft + cropBottom + cropRight > 0) {
    source = run(
      'Slice',
      backend,
      { x: dy },
      {
        begin: [0, cropTop, cropLeft, 0],
        size: [n, height - cropTop - cropBottom, width - cropLeft - cropRight, channels]
      }
    );
  }
  const part = run(
    'Conv2D',
    backend,
    { x: source, filter },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [Math.max(0, row.before), Math.max(0, row.after)],
        [Math.max(0, col.before), Math.max(0, col.after)],
        [0, 0]
      ],
      dataFormat: 'NHWC',
      dilations: [1, 1]
    }
  );
  release(backend, filter);
  if (source !== dy) release(backend, source);
  return part;
}

/** Our replacement kernels, exported so tests can check that they are the ones registered. */
export const WASM_GRADIENT_KERNELS: readonly KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: WASM,
    kernelFunc: conv2DBackpropFilter as KernelConfig['kernelFunc']
  },
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: WASM,
    kernelFunc: conv2DBackpropInput as KernelConfig['kernelFunc']
  }
];

let registered = false;

/** Replaces the wasm backend's convolution gradient kernels (and its slow transposed BatchMatMul); idempotent. */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  const matMul = tf.getKernel(tf.BatchMatMul, WASM);
  if (matMul === undefined) throw new Error('wasm backend lacks the BatchMatMul kernel');
  for (const config of [...WASM_GRADIENT_KERNELS, batchMatMulWithExplicitTranspose(matMul)]) {
    if (tf.getKernel(config.kernelName, WASM) !== undefined) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
  }
}
