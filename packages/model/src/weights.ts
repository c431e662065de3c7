import { ResNet18 } from './resnet18.js';
import { elementCount, resnet18Spec } from './resnet18-spec.js';
import type { TensorSpec } from './resnet18-spec.js';
import { decodeSafetensors, encodeSafetensors, float32Bytes, int64Bytes, toFloat32 } from './safetensors.js';
import type { RawTensor, SafetensorsDtype } from './safetensors.js';

/** The weight file does not fit the model; the message lists every problem at once. */
export class WeightsMismatchError extends Error {
  constructor(
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly misshaped: readonly string[],
    /** Tensors whose dtype cannot hold them (e.g. integer weights), with the dtype found. */
    readonly mistyped: readonly string[] = []
  ) {
    const lines = [
      ...(missing.length > 0 ? [`missing keys: ${missing.join(', ')}`] : []),
      ...(unexpected.length > 0 ? [`unexpected keys: ${unexpected.join(', ')}`] : []),
      ...(misshaped.length > 0 ? [`mis-shaped tensors: ${misshaped.join(', ')}`] : []),
      ...(mistyped.length > 0 ? [`tensors of the wrong dtype: ${mistyped.join(', ')}`] : [])
    ];
    super(
      `weights do not match torchvision resnet18:\n  ${lines.join('\n  ')}\n` +
        '  (expected a resnet18 state_dict saved as safetensors, e.g. save_file(model.state_dict(), path))'
    );
    this.name = 'WeightsMismatchError';
  }
}

export interface LoadWeightsOptions {
  /** Classes of the model to build; when the file's `fc` has another count, its head is dropped. */
  readonly numClasses: number;
  /**
   * Transfer learning: drop the file's `fc` for a freshly initialised one even when its class count matches, as
   * the course's recipe replaces the final layer whatever the pretrained model was trained on (another 10-class
   * data set has nothing to say about these 10 classes). Without it, a head of the right size is kept (inference).
   */
  readonly replaceHead?: boolean;
  /** Seed of the new head's initialisation when the file's head is dropped. */
  readonly seed?: number;
}

export interface LoadedWeights {
  readonly model: ResNet18;
  /** True when the file's `fc` was dropped for a freshly initialised head (transfer learning). */
  readonly headReplaced: boolean;
  readonly metadata: Record<string, string>;
}

/** Dtypes a weight or running statistic may come in: converted to float32 (F64 rounded, the rest exact). */
const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Builds a ResNet18 from a torchvision state dict in safetensors (OIHW → HWIO, fc [out,in] → [in,out]). As
 * PyTorch's load_state_dict does, it accepts a file without the `num_batches_tracked` counters (many exported
 * checkpoints drop them; they count as 0) and half-precision tensors; anything else missing, extra, mis-shaped
 * or of an integer dtype is refused with every problem listed.
 */
export function loadSafetensorsWeights(bytes: Uint8Array, options: LoadWeightsOptions): LoadedWeights {
  const file = decodeSafetensors(bytes);
  const specs = resnet18Spec(options.numClasses);
  const fileClasses = file.tensors.get('fc.weight')?.shape[0];
  const headReplaced =
    fileClasses !== undefined && (options.replaceHead === true || fileClasses !== options.numClasses);
  const expected = specs.filter((spec) => !(headReplaced && spec.head));
  const missing = expected
    .filter((spec) => !file.tensors.has(spec.name) && spec.kind !== 'bn-num-batches')
    .map((spec) => spec.name);
  const known = new Set(specs.map((spec) => spec.name));
  const unexpected = [...file.tensors.keys()].filter((name) => !known.has(name));
  const misshaped = expected.flatMap((spec) => {
    const tensor = file.tensors.get(spec.name);
    return tensor !== undefined && !sameShape(tensor.shape, spec.torchShape)
      ? [`${spec.name} is [${tensor.shape}], expected [${spec.torchShape}]`]
      : [];
  });
  const mistyped = expected.flatMap((spec) => {
    const tensor = file.tensors.get(spec.name);
    return tensor !== undefined && spec.kind !== 'bn-num-batches' && !FLOAT_DTYPES.has(tensor.dtype)
      ? [`${spec.name} is ${tensor.dtype}, expected F32, F16, BF16 or F64`]
      : [];
  });
  if (missing.length + unexpected.length + misshaped.length + mistyped.length > 0) {
    throw new WeightsMismatchError(missing, unexpected, misshaped, mistyped);
  }
  const fresh = headReplaced ? ResNet18.create({ numClasses: options.numClasses, seed: options.seed }) : undefined;
  const values = new Map<string, Float32Array>();
  for (const spec of specs) {
    const tensor = file.tensors.get(spec.name);
    if (headReplaced && spec.head) values.set(spec.name, fresh!.read(spec.name));
    else if (tensor === undefined)
      values.set(spec.name, Float32Array.of(0)); // an absent num_batches_tracked
    else values.set(spec.name, fromTorchLayout(spec, toFloat32(spec.name, tensor)));
  }
  fresh?.dispose();
  return { model: ResNet18.fromValues(options.numClasses, values), headReplaced, metadata: file.metadata };
}

/** The model as a torchvision state dict in safetensors: F32 tensors, int64 `num_batches_tracked`. */
export function saveSafetensorsWeights(model: ResNet18, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  return encodeSafetensors(
    model.spec.map((spec): [string, RawTensor] => {
      const values = model.read(spec.name);
      if (spec.kind === 'bn-num-batches')
        return [spec.name, { dtype: 'I64', shape: [], data: int64Bytes([values[0]!]) }];
      return [spec.name, { dtype: 'F32', shape: spec.torchShape, data: float32Bytes(toTorchLayout(spec, values)) }];
    }),
    { format: 'pt', ...metadata }
  );
}

/** PyTorch layout → Ringtrain layout for one tensor of the spec. */
export function fromTorchLayout(spec: TensorSpec, values: Float32Array): Float32Array {
  if (spec.kind === 'conv-weight') return permute(values, spec.torchShape, [2, 3, 1, 0]); // OIHW → HWIO
  if (spec.kind === 'linear-weight') return permute(values, spec.torchShape, [1, 0]); // [out,in] → [in,out]
  return values;
}

/** Ringtrain layout → PyTorch layout for one tensor of the spec. */
export function toTorchLayout(spec: TensorSpec, values: Float32Array): Float32Array {
  if (spec.kind === 'conv-weight') return permute(values, spec.shape, [3, 2, 0, 1]); // HWIO → OIHW
  if (spec.kind === 'linear-weight') return permute(values, spec.shape, [1, 0]);
  return values;
}

/** Transposes a row-major tensor: output axis i is input axis perm[i]. */
export function permute(values: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  if (values.length !== elementCount(shape)) throw new Error(`permute: ${values.length} values for shape [${shape}]`);
  const rank = shape.length;
  const outShape = perm.map((axis) => shape[axis]!);
  const inStrides = new Array<number>(rank);
  for (let axis = rank - 1, stride = 1; axis >= 0; axis--) {
    inStrides[axis] = stride;
    stride *= shape[axis]!;
  }
  const strides = perm.map((axis) => inStrides[axis]!);
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = values[source]!;
    // Odometer over the output index, moving the source offset by the matching input strides.
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      source += strides[axis]!;
      if (index[axis]! < outShape[axis]!) break;
      source -= strides[axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}
