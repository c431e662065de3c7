import * as tf from '@tensorflow/tfjs-core';
import type { UniformSource } from './random.js';

/**
 * torchvision's ImageNet transforms, split into pure, seeded *planners* (which source pixels, flipped or not)
 * and executors. The dataset loader executes plans (a crop box with libvips; the eval resize-then-crop with
 * Pillow's bilinear filter, so its pixels are torchvision's); `applyCropPlan` executes a box with tfjs for
 * tests. Plans are plain objects so other packages need no import to use them.
 */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
  flip: boolean;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image's (torchvision default [0.08, 1]). */
  readonly scale?: readonly [number, number];
  /** Range of the crop's width/height (torchvision default [3/4, 4/3]). */
  readonly ratio?: readonly [number, number];
  /** Probability of a horizontal flip (RandomHorizontalFlip default 0.5). */
  readonly flipProbability?: number;
}

/**
 * RandomResizedCrop.get_params of torchvision followed by RandomHorizontalFlip: up to 10 attempts at a box
 * of random area and log-uniform aspect ratio that fits, else the central crop clamped to the ratio range.
 * Sizes are rounded as Python's round() does (half to even), so the same draws give torchvision's box.
 */
export function planRandomResizedCrop(
  sourceWidth: number,
  sourceHeight: number,
  random: UniformSource,
  options: RandomResizedCropOptions = {}
): CropBox {
  checkSize(sourceWidth, sourceHeight);
  const [minScale, maxScale] = options.scale ?? [0.08, 1];
  const [minRatio, maxRatio] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(minScale <= maxScale && minRatio <= maxRatio && minScale > 0 && minRatio > 0)) {
    throw new Error(
      `RandomResizedCrop: scale [${minScale}, ${maxScale}] and ratio [${minRatio}, ${maxRatio}] must be positive, low <= high`
    );
  }
  const area = sourceWidth * sourceHeight;
  const logLow = Math.log(minRatio);
  const logHigh = Math.log(maxRatio);
  const box = ((): Omit<CropBox, 'flip'> => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = area * (minScale + random.uniform() * (maxScale - minScale));
      const aspect = Math.exp(logLow + random.uniform() * (logHigh - logLow));
      const width = roundHalfEven(Math.sqrt(targetArea * aspect));
      const height = roundHalfEven(Math.sqrt(targetArea / aspect));
      if (width > 0 && width <= sourceWidth && height > 0 && height <= sourceHeight) {
        const top = Math.floor(random.uniform() * (sourceHeight - height + 1));
        const left = Math.floor(random.uniform() * (sourceWidth - width + 1));
        return { left, top, width, height };
      }
    }
    const inRatio = sourceWidth / sourceHeight;
    let width = sourceWidth;
    let height = sourceHeight;
    if (inRatio < minRatio) height = roundHalfEven(width / minRatio);
    else if (inRatio > maxRatio) width = roundHalfEven(height * maxRatio);
    return {
      left: Math.floor((sourceWidth - width) / 2),
      top: Math.floor((sourceHeight - height) / 2),
      width,
      height
    };
  })();
  return { ...box, flip: random.uniform() < (options.flipProbability ?? 0.5) };
}

export interface EvalResizePlan {
  /** Size after torchvision's Resize(int(size·256/224)): the shorter side becomes that, aspect kept. */
  readonly resizeWidth: number;
  readonly resizeHeight: number;
  /** The CenterCrop(size) window in the resized image. */
  readonly left: number;
  readonly top: number;
  readonly size: number;
}

/**
 * The eval transform as torchvision runs it, Resize(int(size·256/224)) then CenterCrop(size): resize the whole
 * image, then take the centre window. @ringtrain/dataset executes it (its `ResizeCrop` plan).
 */
export function planEvalResize(sourceWidth: number, sourceHeight: number, size: number): EvalResizePlan {
  checkSize(sourceWidth, sourceHeight);
  const short = Math.trunc((size * 256) / 224);
  // torchvision: new_long = int(new_short * long / short).
  const [resizeWidth, resizeHeight] =
    sourceWidth <= sourceHeight
      ? [short, Math.trunc((short * sourceHeight) / sourceWidth)]
      : [Math.trunc((short * sourceWidth) / sourceHeight), short];
  if (resizeWidth < size || resizeHeight < size) {
    throw new Error(`eval crop ${size} does not fit the resized ${resizeWidth}×${resizeHeight} image`);
  }
  return {
    resizeWidth,
    resizeHeight,
    left: roundHalfEven((resizeWidth - size) / 2),
    top: roundHalfEven((resizeHeight - size) / 2),
    size
  };
}

/**
 * Executes a plan on one RGB image [H, W, 3] with values 0–255: crop, bilinear resize to size×size with
 * half-pixel centres (torchvision's tensor Resize without antialias), optional flip, ImageNet normalisation.
 */
export function applyCropPlan(image: tf.Tensor3D, box: CropBox, size: number): tf.Tensor3D {
  const [height, width, channels] = image.shape;
  if (channels !== 3) throw new Error(`expected an RGB image [H, W, 3], got [${image.shape}]`);
  if (box.left < 0 || box.top < 0 || box.left + box.width > width || box.top + box.height > height) {
    throw new Error(`crop box ${JSON.stringify(box)} lies outside the ${width}×${height} image`);
  }
  return tf.tidy(() => {
    const crop = tf.slice(image, [box.top, box.left, 0], [box.height, box.width, 3]);
    let resized = tf.image.resizeBilinear(tf.cast(crop, 'float32'), [size, size], false, true);
    if (box.flip) resized = tf.reverse(resized, 1);
    return normalize(resized);
  });
}

/** (x/255 − mean) / std per channel, for NHWC or HWC tensors with 0–255 values. */
export function normalize<T extends tf.Tensor>(pixels: T): T {
  return tf.tidy(() => {
    const mean = tf.tensor1d(IMAGENET_MEAN.map((m) => m * 255));
    const std = tf.tensor1d(IMAGENET_STD.map((s) => s * 255));
    return tf.div(tf.sub(pixels, mean), std) as T;
  });
}

/** Python's round(): halves go to the even neighbour (round(2.5) == 2), which torchvision's sizes inherit. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`image size must be positive integers, got ${width}×${height}`);
  }
}
