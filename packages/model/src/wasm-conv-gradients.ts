import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Convolution gradients for the wasm backend, computed with its fast (XNNPACK) Conv2D. tfjs-backend-wasm
 * 4.22 has no Conv2DBackpropFilter at all (training fails) and a naive Conv2DBackpropInput that is 3–14×
 * slower than a convolution, so both are re-expressed as forward convolutions:
 *
 * - filter gradient: dW[kh,kw,ci,co] = Σ x[n, ho·s+kh−pt, wo·s+kw−pl, ci] · dy[n,ho,wo,co], i.e. a
 *   convolution of xᵀ [Ci,H,W,N] with dyᵀ [Ho,Wo,N,Co] as the filter, dilated by the forward stride;
 * - input gradient: dy dilated by the stride (s−1 zeros between rows/columns), padded by K−1−pt, then
 *   convolved (stride 1, valid) with the filter rotated by 180° and with in/out channels swapped.
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
    'channelsLast',
  );
  return { info };
}

function conv2DBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
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
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  );
  release(backend, xT, dyT);
  let taps = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    taps = run('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [conv.shape[0], kh, kw, conv.shape[3]] });
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
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const [, inHeight, inWidth] = inputShape;
  const [, outHeight, outWidth] = dy.shape as [number, number, number, number];
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inHeight + kh - 1 - top - ((outHeight - 1) * sh + 1);
  const right = inWidth + kw - 1 - left - ((outWidth - 1) * sw + 1);

  const rotated = rotateFilter(backend, filter);
  let source = dy;
  let pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const dilate = sh !== 1 || sw !== 1 || Math.min(top, bottom, left, right) < 0;
  if (dilate) {
    source = dilateAndPad(backend, dy, sh, sw, top, left, inHeight + kh - 1, inWidth + kw - 1);
    pad = [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ];
  }
  const dx = run(
    'Conv2D',
    backend,
    { x: source, filter: rotated },
    { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] },
  );
  release(backend, rotated);
  if (dilate) release(backend, source);
  if (dx.shape.some((size, axis) => size !== inputShape[axis])) {
    throw new Error(`internal: input gradient has shape [${dx.shape}] for input [${inputShape}]`);
  }
  return dx;
}

/**
 * W[kh,kw,ci,co] → W'[K−1−kh, K−1−kw, co, ci]: the channel swap with wasm's Transpose, then the taps in
 * reverse order as whole-block copies. Both run at memory speed, unlike wasm's element-wise Reverse or
 * a JavaScript element loop (11 M filter values are rotated every step).
 */
function rotateFilter(backend: Backend, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const swapped = run('Transpose', backend, { x: filter }, { perm: [0, 1, 3, 2] });
  const taps = kh * kw;
  if (taps === 1) return swapped;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  // Views after the allocation: growing the wasm heap detaches earlier views.
  const src = backend.typedArrayFromHeap(swapped) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const block = ci * co;
  for (let tap = 0; tap < taps; tap++) {
    const from = (taps - 1 - tap) * block;
    dst.set(src.subarray(from, from + block), tap * block);
  }
  release(backend, swapped);
  return out;
}

/**
 * Places dy[n,ho,wo,:] at row top+ho·sh, column left+wo·sw of a zero tensor [N,height,width,C]; rows and
 * columns that fall outside (negative padding) are dropped, which makes one code path for every geometry.
 */
function dilateAndPad(
  backend: Backend,
  dy: TensorInfo,
  sh: number,
  sw: number,
  top: number,
  left: number,
  height: number,
  width: number,
): TensorInfo {
  const [batch, outHeight, outWidth, channels] = dy.shape as [number, number, number, number];
  const out = backend.makeOutput([batch, height, width, channels], 'float32');
  const src = backend.typedArrayFromHeap(dy) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let ho = 0; ho < outHeight; ho++) {
      const row = top + ho * sh;
      if (row < 0 || row >= height) continue;
      for (let wo = 0; wo < outWidth; wo++) {
        const col = left + wo * sw;
        if (col < 0 || col >= width) continue;
        const from = ((n * outHeight + ho) * outWidth + wo) * channels;
        dst.set(src.subarray(from, from + channels), ((n * height + row) * width + col) * channels);
      }
    }
  }
  return out;
}

/** Our replacement kernels, exported so tests can check that they are the ones registered. */
export const WASM_GRADIENT_KERNELS: readonly KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2DBackpropFilter as KernelConfig['kernelFunc'] },
  { kernelName: tf.Conv2DBackpropInput, backendName: WASM, kernelFunc: conv2DBackpropInput as KernelConfig['kernelFunc'] },
];

let registered = false;

/** Replaces the wasm backend's convolution gradient kernels with ours; idempotent. */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of WASM_GRADIENT_KERNELS) {
    if (tf.getKernel(config.kernelName, WASM) !== undefined) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
  }
}
