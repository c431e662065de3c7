/**
 * The tensors of torchvision's resnet18 in `state_dict()` order, with their PyTorch shapes. One table drives
 * initialisation, the safetensors layout and the order of the flat gradient vector, so they cannot drift.
 */

export type TensorKind =
  | 'conv-weight'
  | 'linear-weight'
  | 'linear-bias'
  | 'bn-weight'
  | 'bn-bias'
  | 'bn-running-mean'
  | 'bn-running-var'
  | 'bn-num-batches';

export interface TensorSpec {
  /** torchvision state-dict key, e.g. `layer1.0.conv1.weight`. */
  readonly name: string;
  readonly kind: TensorKind;
  /** Shape in PyTorch layout (OIHW for convolutions, [out, in] for the linear weight). */
  readonly torchShape: readonly number[];
  /** Shape inside Ringtrain (HWIO, [in, out]); equal to torchShape for vectors. */
  readonly shape: readonly number[];
  /** A learnable parameter (weights and biases), as opposed to a batch-norm buffer. */
  readonly parameter: boolean;
  /** Belongs to the classifier head (`fc`), the only part trained when the backbone is frozen. */
  readonly head: boolean;
}

export const STAGE_CHANNELS = [64, 128, 256, 512] as const;
export const BLOCKS_PER_STAGE = 2;

/**
 * The forward pass cut at its stage boundaries, input to output: the stem (conv1, bn1, ReLU, max-pool), the four
 * residual stages, and the head (global average pool and fc). The staged backward runs them in reverse.
 */
export const FORWARD_STAGES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'head'] as const;
export type ForwardStage = (typeof FORWARD_STAGES)[number];

/** The stage a state-dict tensor belongs to; each stage's tensors are contiguous in state-dict order. */
export function forwardStageOf(name: string): ForwardStage {
  if (name.startsWith('fc.')) return 'head';
  const layer = /^layer([1-4])\./.exec(name);
  return layer === null ? 'stem' : (`layer${layer[1]}` as ForwardStage);
}

export function resnet18Spec(numClasses: number): TensorSpec[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const specs: TensorSpec[] = [];
  const conv = (name: string, out: number, inp: number, k: number): void => {
    specs.push(tensor(`${name}.weight`, 'conv-weight', [out, inp, k, k], [k, k, inp, out], true));
  };
  const bn = (name: string, channels: number): void => {
    specs.push(tensor(`${name}.weight`, 'bn-weight', [channels], [channels], true));
    specs.push(tensor(`${name}.bias`, 'bn-bias', [channels], [channels], true));
    specs.push(tensor(`${name}.running_mean`, 'bn-running-mean', [channels], [channels], false));
    specs.push(tensor(`${name}.running_var`, 'bn-running-var', [channels], [channels], false));
    specs.push(tensor(`${name}.num_batches_tracked`, 'bn-num-batches', [], [], false));
  };
  conv('conv1', 64, 3, 7);
  bn('bn1', 64);
  let inChannels = 64;
  STAGE_CHANNELS.forEach((channels, stage) => {
    for (let block = 0; block < BLOCKS_PER_STAGE; block++) {
      const prefix = `layer${stage + 1}.${block}`;
      conv(`${prefix}.conv1`, channels, inChannels, 3);
      bn(`${prefix}.bn1`, channels);
      conv(`${prefix}.conv2`, channels, channels, 3);
      bn(`${prefix}.bn2`, channels);
      if (hasDownsample(stage, block)) {
        conv(`${prefix}.downsample.0`, channels, inChannels, 1);
        bn(`${prefix}.downsample.1`, channels);
      }
      inChannels = channels;
    }
  });
  specs.push({ ...tensor('fc.weight', 'linear-weight', [numClasses, 512], [512, numClasses], true), head: true });
  specs.push({ ...tensor('fc.bias', 'linear-bias', [numClasses], [numClasses], true), head: true });
  return specs;
}

/** The first block of stages 2–4 halves the resolution and changes the width, so it needs a 1×1/2 shortcut. */
export function hasDownsample(stage: number, block: number): boolean {
  return stage > 0 && block === 0;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function tensor(name: string, kind: TensorKind, torchShape: number[], shape: number[], parameter: boolean): TensorSpec {
  return { name, kind, torchShape, shape, parameter, head: false };
}
